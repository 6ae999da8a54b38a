using System.Text.Json.Nodes;
using LlavaMed.Models;
using static TorchSharp.torch;

namespace LlavaMed.Checkpoints;

/// <summary>dtype and device chosen by name (<c>auto|float32|bfloat16|float16</c>, <c>cpu|cuda|cuda:N</c>, as the
/// CLI's <c>--dtype</c>/<c>--device</c> and the notebooks' parameter cells take them) for a checkpoint folder or a
/// model of a known size, on this machine: <see cref="PlacementPlanner.Decide"/>'s rules and memory check with
/// <see cref="MachineProbe"/>'s reading.</summary>
public static class CheckpointPlacement
{
    /// <summary>For loading the checkpoint in <paramref name="modelFolder"/> to answer or inspect (its parameter count
    /// and <c>torch_dtype</c>).</summary>
    public static PlacementDecision Decide(string modelFolder, string dtype, string device, Workload workload) =>
        Decide(new LoadNeed(LlavaForCausalLM.CountParameters(LlavaConfig.FromFolder(modelFolder))), CheckpointDtype(modelFolder),
               dtype, device, workload);

    /// <summary>For any need, e.g. a training run's <c>TrainingNeed</c> (the curriculum trains a model that does not
    /// exist yet).</summary>
    public static PlacementDecision Decide(IMemoryNeed need, ScalarType? checkpointDtype, string dtype, string device, Workload workload)
    {
        var target = PlacementPlanner.ParseDevice(device);
        return PlacementPlanner.Decide(PlacementPlanner.ParseDtype(dtype), target, workload, need, checkpointDtype, MachineProbe.Read(target));
    }

    /// <summary>The load options a decision stands for.</summary>
    public static LoadOptions ToLoadOptions(this PlacementDecision decision) => new() { Dtype = decision.Dtype, Device = decision.Device };

    /// <summary>One line: what was chosen, why, and the memory it needs.</summary>
    public static string Describe(this PlacementDecision decision) =>
        $"dtype: {decision.DtypeName} on {PlacementPlanner.DeviceName(decision.Device)} ({decision.Reason}; "
        + $"needs about {decision.Estimate.TotalBytes / 1e9:F1} GB)";

    /// <summary>config.json's <c>torch_dtype</c>, when it names one the workbench loads.</summary>
    public static ScalarType? CheckpointDtype(string modelFolder)
    {
        var path = Path.Combine(modelFolder, "config.json");
        if (!File.Exists(path)) return null;
        var name = (JsonNode.Parse(File.ReadAllText(path)) as JsonObject)?["torch_dtype"]?.GetValue<string>();
        return name is "float32" or "bfloat16" or "float16" ? PlacementPlanner.FromRequest(PlacementPlanner.ParseDtype(name)) : null;
    }
}
