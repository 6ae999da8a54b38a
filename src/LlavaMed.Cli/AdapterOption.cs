using System.CommandLine;
using LlavaMed.Inference;
using LlavaMed.Training;

namespace LlavaMed.Cli;

/// <summary><c>--adapter DIR</c> of ask, predict and chat: LoRA adapters in PEFT's layout merged into the loaded base.</summary>
public static class AdapterOption
{
    public static Option<string?> Create() => new("--adapter")
    {
        Description = "LoRA adapter folder (PEFT layout: adapter_config.json + adapter_model.safetensors, as train writes to OUT/adapter) merged into --model",
    };

    public static void Apply(ParseResult parse, Option<string?> option, LlavaPipeline pipeline)
    {
        if (parse.GetValue(option) is { } folder) PeftAdapters.Merge(pipeline.Model, folder);
    }
}
