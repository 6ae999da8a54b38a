using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;
using LlavaMed.Data;
using LlavaMed.Data.Batching;
using LlavaMed.Distributed;
using LlavaMed.Models;
using LlavaMed.Text;
using LlavaMed.Workbench;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Training;

/// <summary>Raised when the loss becomes NaN or infinite; the last good checkpoint is kept.</summary>
public sealed class NonFiniteLossException(string message) : Exception(message);

/// <summary>Runs one curriculum stage: AdamW with a separate projector learning rate, cosine schedule with
/// warm-up, gradient accumulation, global-norm clipping, periodic resumable checkpoints (weights in the Hugging
/// Face layout, optimiser state, position in the data), deterministic on CPU in float32: all randomness derives
/// from (seed, epoch), so a resumed run continues exactly where the interrupted one was.
/// <para>Data-parallel under a launcher (<paramref name="processGroup"/> of several ranks): every rank starts from
/// rank 0's trainable weights (and optimiser state on resume), trains its share of each global batch
/// (<see cref="SampleOrder.RankShare"/>; <see cref="TrainingStage.BatchSize"/> is per rank), weights its loss by the
/// global count of supervised tokens and sums the gradients over the ranks before clipping and the update, so N ranks
/// x B train what one process trains with N·B. Rank 0 writes the log, checkpoints and the final model.</para></summary>
public sealed class StageTrainer(ProcessGroup? processGroup = null)
{
    readonly ProcessGroup group = processGroup ?? new SingleProcessGroup();

    public const string TrainerStateFile = "trainer_state.json";
    public const string OptimizerStateFile = "optimizer.safetensors";
    public const string LogFile = "log.jsonl";
    public const string AdapterFile = PeftAdapters.WeightsFile;
    /// <summary>The final LoRA adapters in PEFT's layout, beside the merged model (<see cref="PeftAdapters"/>).</summary>
    public const string AdapterFolder = "adapter";

    /// <summary>Trains the stage from <see cref="TrainingStage.InitFrom"/> (loaded in the stage's dtype and device) and
    /// writes the final model to <see cref="TrainingStage.OutputDir"/>. With <paramref name="resume"/>, continues from
    /// the newest complete checkpoint in the output folder. Reports every step and event to <paramref name="progress"/>
    /// as it happens and returns them all.</summary>
    public IReadOnlyList<TrainingProgress> Run(TrainingStage stage, IProgress<TrainingProgress>? progress = null, bool resume = false,
                                               CancellationToken cancellation = default)
    {
        Validate(stage);
        Directory.CreateDirectory(stage.OutputDir);
        var resumeFrom = resume ? LatestCheckpoint(stage.OutputDir) : null;
        using var start = ModelWithProcessors.Load(resumeFrom ?? stage.InitFrom, stage.TokenizerFolder ?? stage.InitFrom,
                                                   new LoadOptions { Dtype = stage.Dtype, Device = stage.Device });
        return Train(stage, start, resumeFrom, progress, cancellation);
    }

    /// <summary>Trains a model already in memory (built or loaded by the caller, who keeps owning it) and writes the
    /// final model to <see cref="TrainingStage.OutputDir"/>; <see cref="TrainingStage.InitFrom"/> is only recorded.</summary>
    public IReadOnlyList<TrainingProgress> Run(TrainingStage stage, ModelWithProcessors start, IProgress<TrainingProgress>? progress = null,
                                               CancellationToken cancellation = default)
    {
        Validate(stage);
        Directory.CreateDirectory(stage.OutputDir);
        return Train(stage, start, resumeFrom: null, progress, cancellation);
    }

    static void Validate(TrainingStage stage)
    {
        stage.Lora?.Validate();
        if (stage.Lora is not null && stage.Trainable != TrainableSet.ProjectorAndLanguageModel)
            throw new ArgumentException($"{stage.Name}: LoRA adapts the language model, which this stage does not train");
    }

    IReadOnlyList<TrainingProgress> Train(TrainingStage stage, ModelWithProcessors start, string? resumeFrom, IProgress<TrainingProgress>? progress,
                                          CancellationToken cancellation)
    {
        var reported = new List<TrainingProgress>();
        void Report(TrainingProgress record)
        {
            reported.Add(record);
            progress?.Report(record);
        }
        var model = start.Model;
        var tokenizerFolder = start.TokenizerFolder;
        long visionParameters = model.Model.VisionTower.parameters().Sum(p => p.numel());
        long embeddingParameters = model.Model.EmbedTokens.weight!.numel();
        long languageMatmulParameters = model.parameters().Sum(p => p.numel()) - visionParameters
                                        - (model.Config.TieWordEmbeddings ? 0 : embeddingParameters);
        bool languageWeightsTrained = stage.Trainable == TrainableSet.ProjectorAndLanguageModel && stage.Lora is null;
        var samples = LlavaSample.ReadJsonArray(stage.DataPath);
        var dataset = TokenizedDataset.Create(samples, stage.Template, start.Tokenizer, stage.MaxLength, stage.ImageRoot);
        var loader = new BatchLoader(dataset, start.ImageProcessor, new BatchOptions
        {
            BatchSize = stage.BatchSize, Rank = group.Rank, WorldSize = group.WorldSize, Seed = stage.Seed, GroupByModalityLength = stage.GroupByModalityLength,
            PackPerImage = stage.PackPerImage, PackedRowTokens = PackedRowTokens(stage, model.Config),
        });
        int stepsPerEpoch = (loader.BatchesPerEpoch + stage.GradientAccumulation - 1) / stage.GradientAccumulation;
        int totalSteps = stepsPerEpoch * stage.Epochs;
        int warmup = LearningRateSchedule.WarmupSteps(totalSteps, stage.WarmupRatio);

        using var lora = stage.Lora is null ? null : LoraAdapters.Attach(model, stage.Lora, (ulong)stage.Seed);
        if (stage.GradientCheckpointing)
            model.GradientCheckpointing = new ActivationCheckpointing(
                layer => lora?.ParametersIn(layer) ?? [], () => lora?.DropoutGenerator is { } random ? [random] : []);
        if (lora is not null && resumeFrom is not null)
        {
            using var adapterFile = SafetensorsFile.Open(Path.Combine(resumeFrom, AdapterFile));
            lora.Load(adapterFile.Names.ToDictionary(n => n, n => adapterFile.ReadTensor(n)));
        }
        var groups = ParameterGroups(model, stage, lora);
        DataParallel.BroadcastFromMain(group, groups.SelectMany(g => g.Parameters).ToList<Tensor>());
        var optimizerGroups = groups.Select(g => new ParameterGroup(g.Parameters, g.LearningRate)).ToList();
        // ZeRO-1 keeps only this rank's shard of the optimiser state; otherwise every rank holds all of it.
        using var optimizer = stage.ShardOptimizerState ? null : new AdamWOptimizer(optimizerGroups, weightDecay: stage.WeightDecay);
        using var sharded = stage.ShardOptimizerState ? new ZeroAdamWOptimizer(optimizerGroups, group, weightDecay: stage.WeightDecay) : null;
        var trainingStep = new TrainingStep(optimizerGroups, optimizer, sharded, stage.MaxGradNorm, group);
        int globalBatchSize = stage.BatchSize * group.WorldSize;
        var state = resumeFrom is null ? new TrainerState(0, 0, 0) { GlobalBatchSize = globalBatchSize } : TrainerState.Read(resumeFrom);
        if (resumeFrom is not null)
        {
            if (state.GlobalBatchSize is { } saved && saved != globalBatchSize)
                throw new ArgumentException($"{resumeFrom} was trained with global batches of {saved} samples, this run has {group.WorldSize} rank(s) x {stage.BatchSize} = "
                    + $"{globalBatchSize}: resume with ranks x --batch-size = {saved}");
            optimizer?.Load(Path.Combine(resumeFrom, OptimizerStateFile));
            optimizer?.BroadcastFromMain(group);
            sharded?.Load(Path.Combine(resumeFrom, OptimizerStateFile));
        }
        int startStep = state.Step;
        Report(Progress(stage, state, totalSteps, double.NaN, 0, 0, TimeSpan.Zero, TimeSpan.Zero,
                              resumeFrom is null
                                  ? $"{dataset.Samples.Count} samples, {totalSteps} optimiser steps, {dataset.Report.Truncated} truncated, {dataset.Report.MismatchedIds.Count} "
                                      + $"with tokenization mismatch"
                                    + (group.WorldSize > 1 ? $", {group.WorldSize} ranks ({group.Backend}) x {stage.BatchSize} samples per batch" : "")
                                    + (sharded is null ? "" : ", optimiser state sharded (ZeRO-1)")
                                  : $"resumed from {resumeFrom} at step {state.Step}"));

        model.train();
        var clock = Stopwatch.StartNew();
        int samplesSeen = 0;
        using var log = group.IsMain ? new StreamWriter(Path.Combine(stage.OutputDir, LogFile), append: true) : null;
        var tensorBoard = stage.TensorBoard && group.IsMain ? utils.tensorboard.SummaryWriter(Path.Combine(stage.OutputDir, "tensorboard")) : null;
        for (int epoch = state.Epoch; epoch < stage.Epochs; epoch++)
        {
            int startBatch = epoch == state.Epoch ? state.BatchInEpoch : 0;
            var microBatches = new List<TrainingBatch>();
            // Time from the end of one step to the start of the next: waiting for the loader's batches (log.jsonl's
            // data_wait_seconds; near zero when the prefetching workers keep up).
            var dataWaitClock = Stopwatch.StartNew();
            foreach (var batch in loader.Epoch(epoch, startBatch, cancellation))
            {
                microBatches.Add(batch);
                bool lastOfEpoch = batch.Index == loader.BatchesPerEpoch - 1;
                if (microBatches.Count < stage.GradientAccumulation && !lastOfEpoch) continue;

                // Any randomness in a step (LoRA dropout) comes from (seed, step, rank): a resumed run repeats it exactly.
                using var stepRandom = new Generator((ulong)stage.Seed * 1_000_003UL + (ulong)state.Step + ((ulong)group.Rank << 40));
                if (lora is not null) lora.DropoutGenerator = stepRandom;
                double lr = stage.LearningRate * LearningRateSchedule.CosineWithWarmup(state.Step, totalSteps, warmup);
                foreach (var (optimizerGroup, definition) in optimizerGroups.Zip(groups))
                    optimizerGroup.LearningRate = definition.LearningRate * lr / stage.LearningRate;
                var dataWait = dataWaitClock.Elapsed;
                var stepClock = Stopwatch.StartNew();
                var (loss, stepSamples, positions, imagePositions) = OptimizerStep(model, trainingStep, microBatches);
                samplesSeen += stepSamples;
                foreach (var used in microBatches) used.Dispose();
                microBatches.Clear();
                if (!double.IsFinite(loss))
                    throw new NonFiniteLossException($"{stage.Name}: loss is {loss} at step {state.Step}; the last good checkpoint is kept in {stage.OutputDir}");

                state = (lastOfEpoch ? new TrainerState(state.Step + 1, epoch + 1, 0) : new TrainerState(state.Step + 1, epoch, batch.Index + 1))
                        with { GlobalBatchSize = globalBatchSize };
                var elapsed = clock.Elapsed;
                var remaining = TimeSpan.FromSeconds(elapsed.TotalSeconds / Math.Max(1, state.Step - startStep) * (totalSteps - state.Step));
                double stepFlop = TrainingFlops.Step(languageMatmulParameters, positions, languageWeightsTrained, stage.GradientCheckpointing,
                                                     visionParameters, imagePositions);
                var step = Progress(stage, state, totalSteps, loss, lr, samplesSeen / Math.Max(elapsed.TotalSeconds, 1e-9), elapsed, remaining)
                           with { StepFlop = stepFlop };
                log?.WriteLine(JsonSerializer.Serialize(new { step = step.Step, epoch = step.Epoch, loss, lr, elapsed_seconds = elapsed.TotalSeconds,
                                                               step_seconds = stepClock.Elapsed.TotalSeconds, data_wait_seconds = dataWait.TotalSeconds,
                                                               positions, flop_estimate = stepFlop,
                                                               communication_seconds = group.CommunicationTime.TotalSeconds }));
                log?.Flush();
                tensorBoard?.add_scalar($"{stage.Name}/loss", (float)loss, state.Step);
                tensorBoard?.add_scalar($"{stage.Name}/learning_rate", (float)lr, state.Step);
                if (stage.SaveEverySteps > 0 && state.Step % stage.SaveEverySteps == 0 && state.Step < totalSteps)
                {
                    using var gatherScope = NewDisposeScope();
                    var shardedState = sharded?.GatherState(); // a collective: every rank takes part
                    if (group.IsMain)
                    {
                        SaveCheckpoint(stage, start, path =>
                        {
                            if (shardedState is null) optimizer!.Save(path);
                            else SafetensorsFile.Save(path, shardedState);
                        }, lora, state);
                        step = step with { Event = $"checkpoint at step {state.Step}" };
                    }
                }
                Report(step);
                dataWaitClock.Restart();
            }
        }
        model.eval();
        if (lora is not null)
        {
            // The adapters alone, as PEFT and LLaVA's LoRA recipe exchange them, then merged into the saved weights.
            if (group.IsMain)
                PeftAdapters.Save(Path.Combine(stage.OutputDir, AdapterFolder), lora, stage.Lora!, model,
                                  model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name), stage.InitFrom);
            lora.Merge();
        }
        if (group.IsMain)
            CheckpointWriter.Save(model, stage.OutputDir, tokenizerFolder, start.ImageProcessor.Config, new JsonObject
            {
                ["stage"] = stage.Name, ["step"] = state.Step, ["seed"] = stage.Seed, ["init_from"] = stage.InitFrom,
                ["data"] = stage.DataPath, ["data_fingerprint"] = Fingerprint(stage.DataPath),
            });
        if (group.IsMain)
            AtomicFile.WriteText(Path.Combine(stage.OutputDir, TrainingStage.ArgumentsFile),
                                 stage.ToJson(group.WorldSize).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        group.Barrier();
        Report(Progress(stage, state, totalSteps, double.NaN, 0, samplesSeen / Math.Max(clock.Elapsed.TotalSeconds, 1e-9),
                        clock.Elapsed, TimeSpan.Zero, $"saved {stage.OutputDir}"));
        return reported;
    }

    static TrainingProgress Progress(TrainingStage stage, TrainerState state, int total, double loss, double lr, double rate,
                                     TimeSpan elapsed, TimeSpan remaining, string? message = null) =>
        new(stage.Name, state.Epoch, state.Step, total, loss, lr, rate, elapsed, remaining, message);

    /// <summary>The longest packed row in token ids: no longer than one sample may be (the stage's maximum length),
    /// and short enough that the spliced row (the placeholder becomes the image's tokens) is never truncated.</summary>
    static int PackedRowTokens(TrainingStage stage, LlavaConfig config) =>
        Math.Min(stage.MaxLength, config.TokenizerModelMaxLength ?? int.MaxValue) - (config.Vision.NumPatches - 1);

    /// <summary>One optimiser step (<see cref="TrainingStep"/>) over the accumulated micro-batches: each micro-batch's
    /// loss is weighted by its supervised tokens. Also returns this rank's decoder positions and vision-tower patch
    /// positions (for <see cref="TrainingFlops"/>). Public so that
    /// <c>llava-med bench train</c> times this very step.</summary>
    public static (double Loss, int Samples, long Positions, long ImagePositions) OptimizerStep(LlavaForCausalLM model, TrainingStep step, List<TrainingBatch> microBatches)
    {
        long supervised = microBatches.Sum(b => b.Labels.Sum(l => l.Skip(1).LongCount(x => x != MultimodalSplice.IgnoreIndex)));
        long positions = 0, imagePositions = 0;
        var (loss, samples) = step.Run(microBatches, supervised, microBatches.Sum(b => b.Ids.Count), batch =>
        {
            if (batch.Ids.Count == 0) return default; // this rank's share of an epoch's last global batch can be empty
            var inputs = model.PrepareInputs(batch.InputIds, batch.PixelValues, batch.Labels, PaddingSide.Right, batch.Segments); // freed by the step's scope
            var loss = model.TrainingLoss(inputs);
            positions += inputs.BatchSize * inputs.Length;
            imagePositions += (batch.PixelValues?.shape[0] ?? 0) * model.Config.Vision.NumPositions;
            return new MicroBatchLoss(loss, inputs.HostLabels!.Sum(row => row.Skip(1).LongCount(label => label != MultimodalSplice.IgnoreIndex)));
        });
        return (loss, samples, positions, imagePositions);
    }

    sealed record GroupDefinition(IReadOnlyList<Parameter> Parameters, double LearningRate);

    /// <summary>Freezes what the stage does not train and splits the rest into the projector's group and the
    /// language model's group (LLaVA's <c>mm_projector_lr</c>). With LoRA the language model's own weights stay
    /// frozen and its group holds the adapters instead.</summary>
    static List<GroupDefinition> ParameterGroups(LlavaForCausalLM model, TrainingStage stage, LoraAdapters? lora)
    {
        var projector = new List<Parameter>();
        var language = new List<Parameter>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            bool trains = Trains(name, stage.Trainable, lora is not null);
            parameter.requires_grad = trains;
            if (!trains) continue;
            (IsProjector(name) ? projector : language).Add(parameter);
        }
        if (lora is not null) language.AddRange(lora.Parameters);
        var groups = new List<GroupDefinition> { new(projector, stage.ProjectorLearningRate ?? stage.LearningRate) };
        if (language.Count > 0) groups.Add(new GroupDefinition(language, stage.LearningRate));
        return groups;
    }

    /// <summary>Whether parameter <paramref name="name"/> is the projector's (LLaVA's <c>mm_projector_lr</c> group).</summary>
    public static bool IsProjector(string name) => name.StartsWith("model.mm_projector", StringComparison.Ordinal);

    /// <summary>Whether a stage trains the model's own parameter <paramref name="name"/>: the projector always, the
    /// language model in stages 2 and 3 unless LoRA adapts it instead, the vision tower never.</summary>
    public static bool Trains(string name, TrainableSet trainable, bool lora) =>
        IsProjector(name) || (trainable == TrainableSet.ProjectorAndLanguageModel && !lora
                              && !name.StartsWith(CheckpointLoader.TowerPrefix, StringComparison.Ordinal));

    /// <summary>Writes <c>checkpoint-STEP/</c> atomically (a temporary folder renamed when complete) and keeps
    /// the newest <see cref="TrainingStage.KeepLastCheckpoints"/>.</summary>
    static void SaveCheckpoint(TrainingStage stage, ModelWithProcessors start, Action<string> saveOptimizerState, LoraAdapters? lora, TrainerState state)
    {
        var final = Path.Combine(stage.OutputDir, $"checkpoint-{state.Step}");
        var temporary = final + ".tmp";
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        CheckpointWriter.Save(start.Model, temporary, start.TokenizerFolder, start.ImageProcessor.Config,
                              new JsonObject { ["stage"] = stage.Name, ["step"] = state.Step, ["seed"] = stage.Seed });
        saveOptimizerState(Path.Combine(temporary, OptimizerStateFile));
        if (lora is not null) SafetensorsFile.Save(Path.Combine(temporary, AdapterFile), lora.StateDict());
        state.Write(temporary);
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temporary, final);
        foreach (var old in Checkpoints(stage.OutputDir).SkipLast(Math.Max(1, stage.KeepLastCheckpoints)))
            Directory.Delete(old, recursive: true);
    }

    static IEnumerable<string> Checkpoints(string outputDir) =>
        Directory.EnumerateDirectories(outputDir, "checkpoint-*")
            .Where(d => !d.EndsWith(".tmp", StringComparison.Ordinal) && File.Exists(Path.Combine(d, TrainerStateFile)))
            .OrderBy(d => int.Parse(Path.GetFileName(d)["checkpoint-".Length..]));

    public static string? LatestCheckpoint(string outputDir) =>
        Directory.Exists(outputDir) ? Checkpoints(outputDir).LastOrDefault() : null;

    static string Fingerprint(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream))[..16].ToLowerInvariant();
    }
}

/// <summary>Where training stands: optimiser steps done, and the next micro-batch's epoch and index (in global
/// batches of <see cref="GlobalBatchSize"/> samples: ranks x batch size, so a run resumes onto another number of ranks
/// with the same global batch; null in checkpoints written before data parallelism).</summary>
public sealed record TrainerState(int Step, int Epoch, int BatchInEpoch)
{
    public int? GlobalBatchSize { get; init; }

    public void Write(string folder) =>
        AtomicFile.WriteText(Path.Combine(folder, StageTrainer.TrainerStateFile),
            JsonSerializer.Serialize(new { step = Step, epoch = Epoch, batch_in_epoch = BatchInEpoch, global_batch_size = GlobalBatchSize }));

    public static TrainerState Read(string folder)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, StageTrainer.TrainerStateFile)))!;
        return new TrainerState(json["step"]!.GetValue<int>(), json["epoch"]!.GetValue<int>(), json["batch_in_epoch"]!.GetValue<int>())
        {
            GlobalBatchSize = json["global_batch_size"]?.GetValue<int>(),
        };
    }
}
