using System.CommandLine;

namespace LlavaMed.Cli;

/// <summary>The <c>llava-med</c> command tree. Commands write to the invocation's Output and Error writers so
/// tests can run them in-process.</summary>
public static class CliApp
{
    public static RootCommand Build() => new("llava-med: the LLaVA-Med workbench (model, checkpoints, inference)")
    {
        AblateCommand.Create(),
        AskCommand.Create(),
        BenchCommand.Create(),
        CheckpointCommand.Create(),
        ChatCommand.Create(),
        CurriculumCommand.Create(),
        DataCommand.Create(),
        DistributedCommand.Create(),
        EvalCommand.Create(),
        ExportCommand.Create(),
        InspectCommand.Create(),
        PlanCommand.Create(),
        PredictCommand.Create(),
        TrainCommand.Create(),
    };
}
