using System.CommandLine;

namespace LlavaMed.Cli;

/// <summary>The <c>llava-med</c> command tree. Commands write to the invocation's Output and Error writers so
/// tests can run them in-process.</summary>
public static class CliApp
{
    public static RootCommand Build() => new("llava-med: the LLaVA-Med workbench (model, checkpoints, inference)")
    {
        AskCommand.Create(),
        InspectCommand.Create(),
        // Temporary parents holding only this branch's subcommands; the lead merges them with the others'.
        new Command("data", "Build training data") { SelfInstructCommand.Create() },
        new Command("eval", "Evaluate a model") { EvalChatCommand.Create() },
    };
}
