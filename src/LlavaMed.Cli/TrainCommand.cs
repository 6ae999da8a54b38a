using System.CommandLine;
using LlavaMed.Curriculum;
using LlavaMed.Models;
using LlavaMed.Text;
using LlavaMed.Training;
using LlavaMed.Workbench;
using TorchSharp;

namespace LlavaMed.Cli;

/// <summary><c>llava-med train</c>: one curriculum stage with the paper's hyper-parameters unless overridden.</summary>
public static class TrainCommand
{
    /// <summary>The options that define a stage: <c>train</c> runs it, <c>export llava-train</c> writes it for the
    /// reference trainer.</summary>
    internal sealed class StageOptions
    {
        readonly Option<string> stageName = new("--stage") { Description = "alignment | instruction | downstream", Required = true };
        readonly Option<string> init = new("--init") { Description = "checkpoint folder to start from", Required = true };
        readonly Option<string> data = new("--data") { Description = "LLaVA conversation JSON", Required = true };
        readonly Option<string> imageRoot = new("--image-root") { Description = "folder the records' image paths are relative to", Required = true };
        readonly Option<string> output;
        readonly Option<string?> tokenizer = new("--tokenizer") { Description = "tokenizer folder (default: --init)" };
        readonly Option<int?> epochs = new("--epochs");
        readonly Option<double?> lr = new("--lr") { Description = "learning rate" };
        readonly Option<double?> projectorLr = new("--projector-lr") { Description = "separate projector learning rate (mm_projector_lr)" };
        readonly Option<int?> batchSize = new("--batch-size") { Description = "samples per batch on each rank (per_device_train_batch_size)" };
        readonly Option<int?> gradAccum = new("--grad-accum") { Description = "gradient accumulation steps" };
        readonly Option<int?> maxLength = new("--max-length");
        readonly Option<string?> conv = new("--conv") { Description = "conversation template (default: plain for alignment, mistral_instruct otherwise)" };
        readonly Option<int?> saveEvery = new("--save-every") { Description = "write a resumable checkpoint every N optimiser steps" };
        readonly Option<int?> seed = new("--seed");
        readonly Option<int?> loraRank = new("--lora-rank") { Description = "train LoRA adapters of this rank on the language model (merged when saved)" };
        readonly Option<double> loraAlpha = new("--lora-alpha") { Description = "LoRA alpha", DefaultValueFactory = _ => 16 };
        readonly Option<string?> loraTargets = new("--lora-targets")
        {
            Description = $"comma-separated decoder linear layers to adapt (default, LLaVA's recipe: {string.Join(",", LoraOptions.DefaultTargets)}); the projector trains fully",
        };
        readonly Option<bool> gradientCheckpointing = new("--gradient-checkpointing")
        {
            Description = "keep only each layer's input and recompute the layer in the backward (same gradients, less memory, ~1 more forward)",
        };
        readonly Option<int?> packPerImage = new("--pack-per-image")
        {
            Description = "batch up to N questions on one image together and train them as one shared-prefix row (same loss, image encoded once; for VQA sets)",
        };
        readonly PlacementCliOptions placement = new();

        public StageOptions(string outputDescription) =>
            output = new Option<string>("--out") { Description = outputDescription, Required = true };

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { stageName, init, data, imageRoot, output, tokenizer, epochs, lr, projectorLr, batchSize, gradAccum,
                                                  maxLength, conv, saveEvery, seed, loraRank, loraAlpha, loraTargets, gradientCheckpointing, packPerImage })
                command.Options.Add(option);
        }

        /// <summary><c>--dtype</c> and <c>--device</c>: for commands that train (an export only writes files).</summary>
        public void AddPlacementTo(Command command) => placement.AddTo(command);

        /// <summary>The stage as the options define it, trained in the stage's default dtype and device.</summary>
        public TrainingStage Build(ParseResult parse)
        {
            var targets = parse.GetValue(loraTargets)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (targets is not null && parse.GetValue(loraRank) is null)
                throw new ArgumentException("--lora-targets needs --lora-rank");
            var stage = PaperStages.ByName(parse.GetValue(stageName)!, parse.GetValue(data)!, parse.GetValue(imageRoot)!,
                                             parse.GetValue(init)!, parse.GetValue(output)!);
            return stage with
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
        }

        /// <summary>The stage with <c>--dtype</c>/<c>--device</c> resolved for training on <paramref name="ranks"/> ranks
        /// (its <see cref="MemoryPlan"/> checked before anything is allocated or written, the choice printed to
        /// <paramref name="log"/>).</summary>
        public TrainingStage BuildPlaced(ParseResult parse, TextWriter log, int ranks = 1, bool shardOptimizerState = false)
        {
            var stage = Build(parse) with { ShardOptimizerState = shardOptimizerState };
            var settings = new MemoryPlanSettings(stage.Trainable, stage.Dtype, stage.Lora, stage.BatchSize, stage.MaxLength,
                                                  stage.GradientCheckpointing, Ranks: ranks, ShardOptimizerState: shardOptimizerState);
            var decision = placement.ResolveTraining(parse, stage.InitFrom, settings, log);
            return stage with { Dtype = decision.Dtype, Device = decision.Device };
        }
    }

    public static Command Create()
    {
        var stageOptions = new StageOptions("output folder (final model, checkpoints, log.jsonl)");
        var resume = new Option<bool>("--resume") { Description = "continue from the newest checkpoint in --out" };
        var timeout = DistributedCommand.TimeoutOption();
        var zero1 = new Option<bool>("--zero1") { Description = "shard the optimiser state across the ranks (ZeRO stage 1)" };
        var command = new Command("train", "Train one curriculum stage (data-parallel when started by mpirun or srun)") { resume, timeout, zero1 };
        stageOptions.AddTo(command);
        stageOptions.AddPlacementTo(command);
        command.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            var stage = stageOptions.BuildPlaced(parse, stderr, Distributed.LaunchEnvironment.FromProcess().WorldSize, parse.GetValue(zero1));
            var collectives = new Distributed.CollectiveOptions { Timeout = TimeSpan.FromSeconds(parse.GetValue(timeout)) };
            return DistributedCommand.Run(collectives, stderr, group =>
            {
                TrainingProgress? lastStep = null;
                int steps = 0;
                double flop = 0;
                new StageTrainer(group).Run(stage, new InlineProgress<TrainingProgress>(progress =>
                {
                    if (group.IsMain) stdout.WriteLine(ProgressLine(progress));
                    if (!double.IsNaN(progress.StepFlop)) (lastStep, steps, flop) = (progress, steps + 1, flop + progress.StepFlop);
                }), parse.GetValue(resume));
                if (group.IsMain && lastStep is not null) stdout.WriteLine(ThroughputLine(stage, lastStep, steps, flop));
                return 0;
            });
        }));
        return command;
    }

    /// <summary>Seconds per step and the achieved matmul FLOP/s (<see cref="TrainingFlops"/>) beside this machine's
    /// matmul peak in the training dtype, measured now (after training, so that its buffers do not add to the peak).</summary>
    static string ThroughputLine(TrainingStage stage, TrainingProgress lastStep, int steps, double flop)
    {
        double seconds = lastStep.Elapsed.TotalSeconds, achieved = flop / seconds;
        var config = LlavaConfig.FromFolder(stage.InitFrom);
        double peak = BenchCommand.MatmulFlops(stage.Dtype, stage.Device ?? torch.CPU, config.HiddenSize);
        return $"[{lastStep.Phase}] {steps} steps in {seconds:F0} s: {seconds / steps:F1} s/step, ~{flop / steps / 1e12:F2} TFLOP/step (matmuls), "
               + $"{achieved / 1e9:F1} GFLOP/s = {achieved / peak:P0} of the {stage.Dtype} matmul peak measured now ({peak / 1e9:F1} GFLOP/s); "
               + $"load average {File.ReadAllText("/proc/loadavg").Trim()}";
    }

    static string ProgressLine(TrainingProgress p)
    {
        if (double.IsNaN(p.Loss)) return $"[{p.Phase}] {p.Event}";
        int width = 24, filled = p.TotalSteps == 0 ? width : width * p.Step / p.TotalSteps;
        var bar = new string('#', filled) + new string('.', width - filled);
        return $"[{p.Phase}] [{bar}] step {p.Step}/{p.TotalSteps} epoch {p.Epoch} loss {p.Loss:F4} lr {p.LearningRate:E2} "
               + $"{p.SamplesPerSecond:F1} samples/s ETA {p.Remaining:hh\\:mm\\:ss}" + (p.Event is null ? "" : $" ({p.Event})");
    }
}
