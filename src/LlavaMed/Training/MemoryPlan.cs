using System.Globalization;
using System.Text;
using LlavaMed.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Training;

/// <summary>What a training run's memory depends on besides the model's shape.</summary>
/// <param name="PaddedRows">rows of different lengths in a batch (real data with batch &gt; 1): the attention mask
/// then takes libtorch's masked path, which keeps every layer's attention probabilities</param>
public sealed record MemoryPlanSettings(TrainableSet Trainable = TrainableSet.ProjectorAndLanguageModel, ScalarType Dtype = ScalarType.Float32,
                                        LoraOptions? Lora = null, int BatchSize = 1, int MaxLength = 2048,
                                        bool GradientCheckpointing = false, bool? PaddedRows = null)
{
    public bool HasPaddedRows => PaddedRows ?? BatchSize > 1;
}

/// <summary>The memory a training run needs, by part, in bytes: an estimate made before anything is allocated.
/// Weights, gradients and optimiser state are exact counts of this implementation (parameters counted on the meta
/// device; gradients in the trained tensors' dtype; AdamW's two float32 moments, plus a float32 master copy of every
/// trained parameter that is not float32). Activations follow this implementation's saved tensors per decoder layer
/// and token: about 10 x hidden + 4 x intermediate elements (calibrated on the activation-memory benchmark), float32
/// RMSNorm copies in bf16, the attention probabilities when rows are padded; with checkpointing, each layer's input
/// (twice: TorchSharp's custom autograd node also keeps an empty copy of its output) plus one layer recomputed. The
/// head's float32 logits and their gradient for every token, the frozen vision tower's hidden states, and a fixed
/// runtime overhead (.NET and libtorch) complete it.</summary>
public sealed record MemoryPlan(long Parameters, long TrainedParameters, long SequenceTokens, long WeightBytes, long GradientBytes,
                                long OptimizerBytes, long ActivationBytes, long OverheadBytes)
{
    /// <summary>Memory sizes users plan for, GiB: 24 (RTX 4090, this CPU), 40/80 (A100), 48 (A6000, L40S), 141 (H200).</summary>
    public static readonly IReadOnlyList<int> CommonSizesGiB = [24, 40, 48, 80, 141];
    public const long RuntimeOverheadBytes = 512L << 20;

    public long TotalBytes => WeightBytes + GradientBytes + OptimizerBytes + ActivationBytes + OverheadBytes;

    public bool Fits(double gibibytes) => TotalBytes <= gibibytes * (1L << 30);

    public static MemoryPlan Estimate(LlavaConfig config, MemoryPlanSettings settings)
    {
        long dtypeBytes = settings.Dtype switch
        {
            ScalarType.Float32 => 4, ScalarType.BFloat16 or ScalarType.Float16 => 2,
            _ => throw new ArgumentException($"no memory plan for dtype {settings.Dtype}"),
        };
        settings.Lora?.Validate();
        // The model's own parameters, counted on the meta device (shapes, no memory).
        using var model = new LlavaForCausalLM(config, new ParameterPlacement(ScalarType.Float32, META));
        long parameters = 0, trained = 0, adapters = 0;
        foreach (var (name, parameter) in model.named_parameters())
        {
            parameters += parameter.numel();
            if (StageTrainer.Trains(name, settings.Trainable, settings.Lora is not null)) trained += parameter.numel();
        }
        if (settings.Lora is { } lora)
            foreach (var (name, module) in model.named_modules())
                if (module is Linear linear && LoraAdapters.IsTarget(name, lora))
                    adapters += lora.Rank * (linear.weight!.shape[0] + linear.weight.shape[1]);

        long weights = parameters * dtypeBytes + adapters * 4;
        long gradients = trained * dtypeBytes + adapters * 4;
        long optimizer = (trained + adapters) * 8 + (dtypeBytes == 4 ? 0 : trained * 4);

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
        return new MemoryPlan(parameters + adapters, trained + adapters, tokens, weights, gradients, optimizer,
                              layers + head + tower + batchTokens * hidden * dtypeBytes, RuntimeOverheadBytes);
    }

    public override string ToString()
    {
        static string GiB(long bytes) => (bytes / (double)(1L << 30)).ToString("F2", CultureInfo.InvariantCulture) + " GiB";
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"parameters {Parameters:N0}, trained {TrainedParameters:N0}, sequence {SequenceTokens} tokens"));
        foreach (var (part, bytes) in new[] { ("weights", WeightBytes), ("gradients", GradientBytes), ("optimiser state", OptimizerBytes),
                                              ("activations", ActivationBytes), ("runtime", OverheadBytes), ("total", TotalBytes) })
            text.AppendLine($"  {part,-16} {GiB(bytes),12}");
        text.Append("fits: ").Append(string.Join("  ", CommonSizesGiB.Select(size => $"{size} GiB {(Fits(size) ? "yes" : "no")}")));
        return text.ToString();
    }
}
