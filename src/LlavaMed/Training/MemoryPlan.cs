using System.Globalization;
using System.Text;
using LlavaMed.Distributed;
using LlavaMed.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Training;

/// <summary>What a training run's memory depends on besides the model's shape.</summary>
/// <param name="PaddedRows">rows of different lengths in a batch (real data with batch &gt; 1): the attention mask
/// then takes libtorch's masked path, which keeps every layer's attention probabilities</param>
/// <param name="Ranks">data-parallel ranks (each holds the whole model and its own micro-batch)</param>
/// <param name="ShardOptimizerState">ZeRO-1 (<see cref="ZeroAdamWOptimizer"/>): float32 master weights and both
/// moments sharded 1/<paramref name="Ranks"/></param>
public sealed record MemoryPlanSettings(TrainableSet Trainable = TrainableSet.ProjectorAndLanguageModel, ScalarType Dtype = ScalarType.Float32,
                                        LoraOptions? Lora = null, int BatchSize = 1, int MaxLength = 2048,
                                        bool GradientCheckpointing = false, bool? PaddedRows = null, int Ranks = 1,
                                        bool ShardOptimizerState = false)
{
    public bool HasPaddedRows => PaddedRows ?? BatchSize > 1;
}

/// <summary>The memory a training run needs, by part, in bytes, per rank: an estimate made before anything is
/// allocated. Weights, gradients and optimiser state are exact counts of this implementation (parameters counted on the
/// meta device; gradients in the trained tensors' dtype; AdamW's two float32 moments, plus a float32 master copy of
/// every trained parameter that is not float32; with ZeRO-1, master copy (always float32) and moments sharded 1/N).
/// Activations follow this implementation's saved tensors per decoder layer and token: about 10 x hidden + 4 x
/// intermediate elements (calibrated on the activation-memory benchmark), float32 RMSNorm copies in bf16, the attention
/// probabilities when rows are padded; with checkpointing, each layer's input (twice: TorchSharp's custom autograd node
/// also keeps an empty copy of its output) plus one layer recomputed. The head's float32 logits and their gradient for
/// every token, the frozen vision tower's hidden states, and a fixed runtime overhead (.NET and libtorch) complete it.
/// Communication is the data-parallel step's float32 buffers, which live after the backward has freed the activations:
/// the largest gradient bucket of <see cref="DataParallel.AllReduceGradients"/> (flat float32, plus float32 copies of
/// non-float32 gradients), or with ZeRO-1 the whole flat float32 gradient and gathered-weights vectors of
/// <see cref="ZeroAdamWOptimizer.Step"/>; the peak counts the larger of activations and communication.</summary>
public sealed record MemoryPlan(long Parameters, long TrainedParameters, long SequenceTokens, long WeightBytes, long GradientBytes,
                                long OptimizerBytes, long ActivationBytes, long CommunicationBytes, long OverheadBytes)
{
    /// <summary>Memory sizes users plan for, GiB: 24 (RTX 4090, this CPU), 40/80 (A100), 48 (A6000, L40S), 141 (H200).</summary>
    public static readonly IReadOnlyList<int> CommonSizesGiB = [24, 40, 48, 80, 141];
    /// <summary>.NET and libtorch themselves.</summary>
    public const long RuntimeOverheadBytes = PlacementPlanner.RuntimeOverheadBytes;
    /// <summary>The LoRA rank the preflight suggests for a full fine-tune that does not fit (LLaVA-Med's adapters use
    /// 128; 16 is PEFT's usual small one).</summary>
    public const int SuggestedLoraRank = 16;

    public long TotalBytes => WeightBytes + GradientBytes + OptimizerBytes + Math.Max(ActivationBytes, CommunicationBytes) + OverheadBytes;

    public bool Fits(double gibibytes) => TotalBytes <= gibibytes * (1L << 30);

    /// <summary>The parameters a run trains, counted on the meta device (shapes, no memory).</summary>
    sealed record ParameterCounts(long Parameters, long Trained, long Adapters, long[] TrainedSizes);

    static ParameterCounts Count(LlavaConfig config, TrainableSet trainable, LoraOptions? lora)
    {
        lora?.Validate();
        using var model = new LlavaForCausalLM(config, new ParameterPlacement(ScalarType.Float32, META));
        long parameters = 0, trained = 0, adapters = 0;
        var sizes = new List<long>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            parameters += parameter.numel();
            if (!StageTrainer.Trains(name, trainable, lora is not null)) continue;
            trained += parameter.numel();
            sizes.Add(parameter.numel());
        }
        if (lora is not null)
            foreach (var (name, module) in model.named_modules())
                if (module is LinearLayer linear && LoraAdapters.IsTarget(name, lora))
                {
                    adapters += lora.Rank * (linear.Weight.shape[0] + linear.Weight.shape[1]);
                    sizes.Add(lora.Rank * linear.Weight.shape[1]);
                    sizes.Add(lora.Rank * linear.Weight.shape[0]);
                }
        return new ParameterCounts(parameters, trained, adapters, [.. sizes]);
    }

    public static MemoryPlan Estimate(LlavaConfig config, MemoryPlanSettings settings) =>
        Estimate(config, settings, Count(config, settings.Trainable, settings.Lora));

    /// <summary>One plan per number of ranks, 1 to <paramref name="maxRanks"/> (the parameters counted once).</summary>
    public static IReadOnlyList<MemoryPlan> PerRank(LlavaConfig config, MemoryPlanSettings settings, int maxRanks)
    {
        var counts = Count(config, settings.Trainable, settings.Lora);
        return [.. Enumerable.Range(1, maxRanks).Select(ranks => Estimate(config, settings with { Ranks = ranks }, counts))];
    }

    static MemoryPlan Estimate(LlavaConfig config, MemoryPlanSettings settings, ParameterCounts counts)
    {
        if (settings.Ranks < 1) throw new ArgumentException($"--ranks {settings.Ranks}: at least 1");
        long dtypeBytes = PlacementPlanner.ElementSize(settings.Dtype);
        long trained = counts.Trained, adapters = counts.Adapters, optimized = trained + adapters;
        long weights = counts.Parameters * dtypeBytes + adapters * 4;
        long gradients = trained * dtypeBytes + adapters * 4;
        // A float32 gradient goes into the flat float32 buffer as it is; any other is copied to float32 first.
        long flatBytesPerElement = dtypeBytes == 4 ? 4 : 8;
        long optimizer, communication;
        if (settings.ShardOptimizerState)
        {
            long shard = (optimized + settings.Ranks - 1) / settings.Ranks;
            optimizer = shard * 12;
            // The step flattens all gradients to reduce-scatter them (then the rank's shard), and gathers all weights.
            communication = shard * settings.Ranks * flatBytesPerElement + shard * 4;
        }
        else
        {
            optimizer = optimized * 8 + (dtypeBytes == 4 ? 0 : trained * 4);
            communication = settings.Ranks == 1 ? 0
                : DataParallel.Buckets(counts.TrainedSizes, DataParallel.BucketElements).Max(bucket => bucket.Sum(i => counts.TrainedSizes[i]))
                  * flatBytesPerElement;
        }

        var vision = config.Vision;
        long tokens = Math.Min(settings.MaxLength + vision.NumPatches - 1L, config.TokenizerModelMaxLength ?? long.MaxValue);
        long batchTokens = settings.BatchSize * tokens;
        long hidden = config.HiddenSize;
        long perTokenLayer = (10 * hidden + 4L * config.IntermediateSize) * dtypeBytes
                             + (dtypeBytes == 4 ? 0 : 2 * 2 * hidden * 4)
                             + (settings.HasPaddedRows ? config.NumAttentionHeads * tokens * dtypeBytes : 0);
        long layers = settings.GradientCheckpointing
            ? config.NumHiddenLayers * batchTokens * hidden * dtypeBytes * 2 + batchTokens * perTokenLayer
            : config.NumHiddenLayers * batchTokens * perTokenLayer;
        long head = batchTokens * config.VocabSize * (dtypeBytes + 4 + 4);
        long tower = settings.BatchSize * (vision.NumPatches + 1L) * vision.HiddenSize * (vision.NumHiddenLayers + 1L) * dtypeBytes;
        return new MemoryPlan(counts.Parameters + adapters, optimized, tokens, weights, gradients, optimizer,
                              layers + head + tower + batchTokens * hidden * dtypeBytes, communication, RuntimeOverheadBytes);
    }

    /// <summary>Single changes of the run's options that would bring it within <paramref name="availableBytes"/>
    /// (bfloat16, checkpointing, LoRA, the largest smaller batch), as the <c>train</c> options that make them; when
    /// none alone does, all of them together if that fits.</summary>
    public static IReadOnlyList<(string Options, long TotalBytes)> Fitting(LlavaConfig config, MemoryPlanSettings settings, long availableBytes)
    {
        var changes = new List<(string Options, MemoryPlanSettings Settings)>();
        if (settings.Dtype == ScalarType.Float32) changes.Add(("--dtype bfloat16", settings with { Dtype = ScalarType.BFloat16 }));
        if (!settings.GradientCheckpointing) changes.Add(("--gradient-checkpointing", settings with { GradientCheckpointing = true }));
        if (settings.Lora is null && settings.Trainable == TrainableSet.ProjectorAndLanguageModel)
            changes.Add(($"--lora-rank {SuggestedLoraRank}", settings with { Lora = new LoraOptions(SuggestedLoraRank) }));
        for (int batch = settings.BatchSize / 2; batch >= 1; batch /= 2)
            changes.Add(($"--batch-size {batch}", settings with { BatchSize = batch }));
        var fitting = new List<(string, long)>();
        foreach (var (options, changed) in changes)
        {
            if (options.StartsWith("--batch-size", StringComparison.Ordinal) && fitting.Any(f => f.Item1.StartsWith("--batch-size", StringComparison.Ordinal)))
                continue; // the largest batch that fits is the one to name
            var bytes = Estimate(config, changed).TotalBytes;
            if (bytes <= availableBytes) fitting.Add((options, bytes));
        }
        if (fitting.Count > 0 || changes.Count < 2) return fitting;
        var all = settings with
        {
            Dtype = ScalarType.BFloat16, GradientCheckpointing = true, BatchSize = 1,
            Lora = settings.Lora ?? (settings.Trainable == TrainableSet.ProjectorAndLanguageModel ? new LoraOptions(SuggestedLoraRank) : null),
        };
        var allOptions = changes.Select(c => c.Options).Where(o => !o.StartsWith("--batch-size", StringComparison.Ordinal))
                                .Concat(settings.BatchSize > 1 ? ["--batch-size 1"] : []);
        var allBytes = Estimate(config, all).TotalBytes;
        return allBytes <= availableBytes ? [(string.Join(" ", allOptions), allBytes)] : [];
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"parameters {Parameters:N0}, trained {TrainedParameters:N0}, sequence {SequenceTokens} tokens"));
        foreach (var (part, bytes) in new[] { ("weights", WeightBytes), ("gradients", GradientBytes), ("optimiser state", OptimizerBytes),
                                              ("activations", ActivationBytes), ("communication", CommunicationBytes), ("runtime", OverheadBytes), ("total", TotalBytes) })
            if (part != "communication" || bytes > 0) text.AppendLine($"  {part,-16} {GiB(bytes),12}");
        if (CommunicationBytes > 0) text.AppendLine("  (total counts the larger of activations and communication: the step's buffers live after the backward)");
        text.Append("fits: ").Append(string.Join("  ", CommonSizesGiB.Select(size => $"{size} GiB {(Fits(size) ? "yes" : "no")}")));
        return text.ToString();
    }

    /// <summary>Per-rank totals for 1 to N ranks, without and with ZeRO-1, as a markdown table.</summary>
    public static string PerRankTable(IReadOnlyList<MemoryPlan> replicated, IReadOnlyList<MemoryPlan> sharded)
    {
        var text = new StringBuilder("| ranks | per rank | per rank, ZeRO-1 (optimiser state) |\n|---:|---:|---:|\n");
        for (int i = 0; i < replicated.Count; i++)
            text.Append(CultureInfo.InvariantCulture, $"| {i + 1} | {GiB(replicated[i].TotalBytes)} | {GiB(sharded[i].TotalBytes)} ({GiB(sharded[i].OptimizerBytes)}) |\n");
        return text.ToString().TrimEnd();
    }

    static string GiB(long bytes) => (bytes / (double)(1L << 30)).ToString("F2", CultureInfo.InvariantCulture) + " GiB";
}

/// <summary>A training run's need for <see cref="PlacementPlanner.Decide"/>: its <see cref="MemoryPlan"/> in each dtype
/// (weights; gradients and optimiser state; activations or communication and runtime), and the changes of
/// <see cref="MemoryPlan.Fitting"/> when it does not fit.</summary>
public sealed class TrainingNeed(LlavaConfig config, MemoryPlanSettings settings) : IMemoryNeed
{
    readonly Dictionary<ScalarType, MemoryPlan> plans = [];

    public MemoryPlan Plan(ScalarType dtype)
    {
        if (!plans.TryGetValue(dtype, out var plan)) plans[dtype] = plan = MemoryPlan.Estimate(config, settings with { Dtype = dtype });
        return plan;
    }

    public MemoryEstimate Estimate(ScalarType dtype)
    {
        var plan = Plan(dtype);
        long state = plan.GradientBytes + plan.OptimizerBytes;
        return new MemoryEstimate(plan.WeightBytes, state, plan.TotalBytes - plan.WeightBytes - state);
    }

    public IReadOnlyList<(string Options, long TotalBytes)> Fitting(ScalarType dtype, long availableBytes) =>
        MemoryPlan.Fitting(config, settings with { Dtype = dtype }, availableBytes);

    public string NothingFits => "no dtype, checkpointing, LoRA or batch size fits this machine";
}
