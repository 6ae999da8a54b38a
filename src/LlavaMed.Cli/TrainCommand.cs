using System.CommandLine;
using LlavaMed.Text;
using LlavaMed.Training;

namespace LlavaMed.Cli;

/// <summary><c>llava-med train</c>: one curriculum stage with the paper's hyper-parameters unless overridden.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var stageName = new Option<string>("--stage") { Description = "alignment | instruction | downstream", Required = true };
        var init = new Option<string>("--init") { Description = "checkpoint folder to start from", Required = true };
        var data = new Option<string>("--data") { Description = "LLaVA conversation JSON", Required = true };
        var imageRoot = new Option<string>("--image-root") { Description = "folder the records' image paths are relative to", Required = true };
        var output = new Option<string>("--out") { Description = "output folder (final model, checkpoints, log.jsonl)", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer folder (default: --init)" };
        var epochs = new Option<int?>("--epochs");
        var lr = new Option<double?>("--lr") { Description = "learning rate" };
        var projectorLr = new Option<double?>("--projector-lr") { Description = "separate projector learning rate (mm_projector_lr)" };
        var batchSize = new Option<int?>("--batch-size");
        var gradAccum = new Option<int?>("--grad-accum") { Description = "gradient accumulation steps" };
        var maxLength = new Option<int?>("--max-length");
        var conv = new Option<string?>("--conv") { Description = "conversation template (default: plain for alignment, mistral_instruct otherwise)" };
        var saveEvery = new Option<int?>("--save-every") { Description = "write a resumable checkpoint every N optimiser steps" };
        var seed = new Option<int?>("--seed");
        var loraRank = new Option<int?>("--lora-rank") { Description = "train LoRA adapters of this rank on the language model (merged when saved)" };
        var loraAlpha = new Option<double>("--lora-alpha") { Description = "LoRA alpha", DefaultValueFactory = _ => 16 };
        var loraTargets = new Option<string?>("--lora-targets")
        {
            Description = $"comma-separated decoder linear layers to adapt (default, LLaVA's recipe: {string.Join(",", LoraOptions.DefaultTargets)}); the projector trains fully",
        };
        var gradientCheckpointing = new Option<bool>("--gradient-checkpointing")
        {
            Description = "keep only each layer's input and recompute the layer in the backward (same gradients, less memory, ~1 more forward)",
        };
        var resume = new Option<bool>("--resume") { Description = "continue from the newest checkpoint in --out" };
        var packPerImage = new Option<int?>("--pack-per-image")
        {
            Description = "batch up to N questions on one image together and train them as one shared-prefix row (same loss, image encoded once; for VQA sets)",
        };
        var command = new Command("train", "Train one curriculum stage")
        {
            stageName, init, data, imageRoot, output, tokenizer, epochs, lr, projectorLr, batchSize, gradAccum, maxLength, conv,
            saveEvery, seed, loraRank, loraAlpha, loraTargets, gradientCheckpointing, resume, packPerImage,
        };
        command.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            var targets = parse.GetValue(loraTargets)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (targets is not null && parse.GetValue(loraRank) is null)
                throw new ArgumentException("--lora-targets needs --lora-rank");
            var stage = TrainingStage.ByName(parse.GetValue(stageName)!, parse.GetValue(data)!, parse.GetValue(imageRoot)!,
                                             parse.GetValue(init)!, parse.GetValue(output)!);
            stage = stage with
            {
                TokenizerFolder = parse.GetValue(tokenizer),
                Epochs = parse.GetValue(epochs) ?? stage.Epochs,
                LearningRate = parse.GetValue(lr) ?? stage.LearningRate,
                ProjectorLearningRate = parse.GetValue(projectorLr) ?? stage.ProjectorLearningRate,
                BatchSize = parse.GetValue(batchSize) ?? stage.BatchSize,
                GradientAccumulation = parse.GetValue(gradAccum) ?? stage.GradientAccumulation,
                MaxLength = parse.GetValue(maxLength) ?? stage.MaxLength,
                Template = parse.GetValue(conv) is { } name ? ConversationTemplate.ByName(name) : stage.Template,
                SaveEverySteps = parse.GetValue(saveEvery) ?? stage.SaveEverySteps,
                Seed = parse.GetValue(seed) ?? stage.Seed,
                Lora = parse.GetValue(loraRank) is { } rank ? new LoraOptions(rank, parse.GetValue(loraAlpha), TargetModules: targets) : null,
                GradientCheckpointing = parse.GetValue(gradientCheckpointing),
                PackPerImage = parse.GetValue(packPerImage) ?? stage.PackPerImage,
            };
            foreach (var progress in new StageTrainer().Run(stage, parse.GetValue(resume)))
                stdout.WriteLine(ProgressLine(progress));
            return 0;
        }));
        return command;
    }

    static string ProgressLine(TrainingProgress p)
    {
        if (double.IsNaN(p.Loss)) return $"[{p.Stage}] {p.Event}";
        int width = 24, filled = p.TotalSteps == 0 ? width : width * p.Step / p.TotalSteps;
        var bar = new string('#', filled) + new string('.', width - filled);
        return $"[{p.Stage}] [{bar}] step {p.Step}/{p.TotalSteps} epoch {p.Epoch} loss {p.Loss:F4} lr {p.LearningRate:E2} "
               + $"{p.SamplesPerSecond:F1} samples/s ETA {p.Remaining:hh\\:mm\\:ss}" + (p.Event is null ? "" : $" ({p.Event})");
    }
}
