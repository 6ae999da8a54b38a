using System.CommandLine;
using LlavaMed.Curriculum;
using LlavaMed.Models;
using LlavaMed.Training;
using static TorchSharp.torch;

namespace LlavaMed.Cli;

/// <summary><c>llava-med plan</c>: the memory a training run needs, by part, and which common memory sizes it fits,
/// before anything is loaded (<see cref="MemoryPlan"/>).</summary>
public static class PlanCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "model folder whose config.json to plan for (default: LLaVA-Med v1.5 Mistral 7B's shape)" };
        var stageName = new Option<string>("--stage") { Description = "alignment | instruction | downstream", DefaultValueFactory = _ => "downstream" };
        var dtype = new Option<string>("--dtype") { Description = "float32 | bfloat16", DefaultValueFactory = _ => "float32" };
        var loraRank = new Option<int?>("--lora-rank") { Description = "LoRA rank (default: full fine-tuning)" };
        var loraTargets = new Option<string?>("--lora-targets") { Description = "comma-separated decoder linear layers (default: all)" };
        var batchSize = new Option<int>("--batch-size") { Description = "micro-batch size", DefaultValueFactory = _ => 1 };
        var maxLength = new Option<int>("--max-length") { Description = "text tokens per sample (the image adds its patches)", DefaultValueFactory = _ => 2048 };
        var checkpointing = new Option<bool>("--gradient-checkpointing");
        var ranks = new Option<int>("--ranks")
        {
            Description = "data-parallel ranks: the plan per rank, then a table per rank for 1 to N ranks without and with ZeRO-1",
            DefaultValueFactory = _ => 1,
        };
        var zero1 = new Option<bool>("--zero1") { Description = "shard float32 master weights and Adam moments across the ranks (ZeRO-1, as train --zero1)" };
        var command = new Command("plan", "Estimate a training run's memory (weights, gradients, optimiser state, activations) and where it fits")
        {
            model, stageName, dtype, loraRank, loraTargets, batchSize, maxLength, checkpointing, ranks, zero1,
        };
        command.SetAction(parse => CliErrors.Run(parse, (output, _) =>
        {
            var config = parse.GetValue(model) is { } folder ? LlavaConfig.FromFolder(folder) : LlavaConfig.LlavaMedV15Mistral7B;
            var stage = PaperStages.ByName(parse.GetValue(stageName)!, "", "", "", "");
            var targets = parse.GetValue(loraTargets)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var settings = new MemoryPlanSettings(
                stage.Trainable,
                parse.GetValue(dtype) switch
                {
                    "float32" => ScalarType.Float32, "bfloat16" => ScalarType.BFloat16,
                    var other => throw new ArgumentException($"--dtype {other}: float32 or bfloat16"),
                },
                parse.GetValue(loraRank) is { } rank ? new LoraOptions(rank, TargetModules: targets) : null,
                parse.GetValue(batchSize), parse.GetValue(maxLength), parse.GetValue(checkpointing),
                Ranks: parse.GetValue(ranks), ShardOptimizerState: parse.GetValue(zero1));
            output.WriteLine(MemoryPlan.Estimate(config, settings));
            if (settings.Ranks > 1)
            {
                output.WriteLine();
                output.WriteLine(MemoryPlan.PerRankTable(MemoryPlan.PerRank(config, settings with { ShardOptimizerState = false }, settings.Ranks),
                                                         MemoryPlan.PerRank(config, settings with { ShardOptimizerState = true }, settings.Ranks)));
            }
            return 0;
        }));
        return command;
    }
}
