using System.CommandLine;
using LlavaMed.Checkpoints;
using LlavaMed.Models;
using LlavaMed.Training;
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

    /// <summary>Decides for loading the checkpoint in <paramref name="modelFolder"/> (to answer or inspect), checks
    /// that it fits (throws <see cref="MemoryPreflightException"/> with the numbers otherwise) and prints the decision.</summary>
    public PlacementDecision Resolve(ParseResult parse, string modelFolder, Workload workload, TextWriter log) =>
        Resolve(parse, new LoadNeed(LlavaForCausalLM.CountParameters(LlavaConfig.FromFolder(modelFolder))), CheckpointPlacement.CheckpointDtype(modelFolder), workload, log);

    /// <summary>The same for training the checkpoint in <paramref name="modelFolder"/>: the run's
    /// <see cref="MemoryPlan"/>, refused with the options that would fit.</summary>
    public PlacementDecision ResolveTraining(ParseResult parse, string modelFolder, MemoryPlanSettings settings, TextWriter log) =>
        Resolve(parse, new TrainingNeed(LlavaConfig.FromFolder(modelFolder), settings), CheckpointPlacement.CheckpointDtype(modelFolder), Workload.Training, log);

    /// <summary>The same for any need (the curriculum trains a model that does not exist yet).</summary>
    public PlacementDecision Resolve(ParseResult parse, IMemoryNeed need, ScalarType? checkpointDtype, Workload workload, TextWriter log)
    {
        var decision = CheckpointPlacement.Decide(need, checkpointDtype, parse.GetValue(Dtype)!, parse.GetValue(Device)!, workload);
        log.WriteLine(decision.Describe());
        return decision;
    }

    public static LoadOptions LoadOptions(PlacementDecision decision) => decision.ToLoadOptions();
}
