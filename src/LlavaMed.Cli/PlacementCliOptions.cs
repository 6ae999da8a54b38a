using System.CommandLine;
using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;
using LlavaMed.Models;
using static TorchSharp.torch;

namespace LlavaMed.Cli;

/// <summary><c>--dtype auto|float32|bfloat16|float16</c> and <c>--device cpu|cuda|cuda:N</c>, shared by every
/// command that loads or trains a model. Resolving prints the one line that says what was chosen and why.</summary>
public sealed class PlacementCliOptions
{
    public Option<string> Dtype { get; } = new("--dtype")
    {
        Description = "auto (answering: the checkpoint's torch_dtype on a GPU; on a CPU bfloat16 when float32 does not fit "
                      + "or the CPU has native bf16; training: float32 unless it cannot fit), float32, bfloat16 or float16",
        DefaultValueFactory = _ => "auto",
    };

    public Option<string> Device { get; } = new("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };

    public PlacementCliOptions()
    {
        Dtype.AcceptOnlyFromAmong("auto", "float32", "bfloat16", "float16");
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Dtype);
        command.Options.Add(Device);
    }

    /// <summary>Decides for the checkpoint in <paramref name="modelFolder"/>, checks that it fits (throws
    /// <see cref="MemoryPreflightException"/> with the numbers otherwise) and prints the decision.</summary>
    /// <paramref name="trainableParameters"/>: for training, what the run trains (default: every parameter).
    public PlacementDecision Resolve(ParseResult parse, string modelFolder, Workload workload, TextWriter log,
                                     Func<LlavaConfig, long>? trainableParameters = null)
    {
        var config = LlavaConfig.FromFolder(modelFolder);
        var parameters = LlavaForCausalLM.CountParameters(config);
        return Resolve(parse, parameters, CheckpointDtype(modelFolder), workload, log, trainableParameters?.Invoke(config) ?? parameters);
    }

    /// <summary>The same for a model that does not exist yet (the curriculum builds its own).</summary>
    public PlacementDecision Resolve(ParseResult parse, long parameters, ScalarType? checkpointDtype, Workload workload, TextWriter log,
                                     long? trainableParameters = null)
    {
        var device = PlacementPlanner.ParseDevice(parse.GetValue(Device)!);
        var decision = PlacementPlanner.Decide(PlacementPlanner.ParseDtype(parse.GetValue(Dtype)!), device, workload,
            parameters, trainableParameters ?? parameters, checkpointDtype, MachineProbe.Read(device));
        log.WriteLine($"dtype: {decision.DtypeName} on {PlacementPlanner.DeviceName(device)} ({decision.Reason}; "
                      + $"needs about {decision.Estimate.TotalBytes / 1e9:F1} GB)");
        return decision;
    }

    public static LoadOptions LoadOptions(PlacementDecision decision) => new() { Dtype = decision.Dtype, Device = decision.Device };

    /// <summary>config.json's <c>torch_dtype</c>, when it names one the workbench loads.</summary>
    static ScalarType? CheckpointDtype(string modelFolder)
    {
        var path = Path.Combine(modelFolder, "config.json");
        if (!File.Exists(path)) return null;
        var name = (JsonNode.Parse(File.ReadAllText(path)) as JsonObject)?["torch_dtype"]?.GetValue<string>();
        return name is "float32" or "bfloat16" or "float16" ? PlacementPlanner.FromRequest(PlacementPlanner.ParseDtype(name)) : null;
    }
}
