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
    public PlacementDecision Resolve(ParseResult parse, string modelFolder, Workload workload, TextWriter log)
    {
        var config = LlavaConfig.FromFolder(modelFolder);
        var parameters = LlavaForCausalLM.CountParameters(config);
        return Resolve(parse, parameters, CheckpointPlacement.CheckpointDtype(modelFolder), workload, log);
    }

    /// <summary>The same for a model that does not exist yet (the curriculum builds its own).</summary>
    public PlacementDecision Resolve(ParseResult parse, long parameters, ScalarType? checkpointDtype, Workload workload, TextWriter log)
    {
        var decision = CheckpointPlacement.Decide(parameters, checkpointDtype, parse.GetValue(Dtype)!, parse.GetValue(Device)!, workload);
        log.WriteLine(decision.Describe());
        return decision;
    }

    public static LoadOptions LoadOptions(PlacementDecision decision) => decision.ToLoadOptions();
}
