using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>The workbench's one factory of tiny LLaVA models: the configs the tests, the demo checkpoint
/// (<c>checkpoint random --like demo</c>, the quickstart notebook without fixtures) and random checkpoints are built
/// from, and random weights for them. Both shapes are Mistral-style (GQA 4/2 heads, SwiGLU) with a two-layer CLIP tower.</summary>
public static class TinyModels
{
    /// <summary>The smallest model the behaviour tests run: hidden 32, 2 layers, vocabulary 96, a 28-px CLIP
    /// tower with 4 patches (<see cref="ImageSize"/>).</summary>
    public static LlavaConfig Config(string projector = "mlp2x_gelu", int? slidingWindow = null, string modelType = "llava_mistral",
                                     bool startEnd = false, int? maxLength = 2048) => new()
    {
        ModelType = modelType,
        VocabSize = 96, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 512, RopeTheta = 10000,
        SlidingWindow = slidingWindow, MmProjectorType = projector, MmHiddenSize = 16,
        MmUseImStartEnd = startEnd, TokenizerModelMaxLength = maxLength, ImageAspectRatio = "pad",
        Vision = new ClipVisionConfig
        {
            HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, ImageSize = ImageSize, PatchSize = 14,
        },
    };

    /// <summary>The image side of <see cref="Config"/>'s tower.</summary>
    public const int ImageSize = 28;

    /// <summary>The shared fixture's tiny shapes (hidden 64, 2 layers, GQA 4/2, 56-px CLIP with 16 patches): the demo
    /// checkpoint's model, a v1.5 Mistral with an mlp2x_gelu projector.</summary>
    public static LlavaConfig Demo(int vocabularySize) =>
        Shrink(new LlavaConfig { MmProjectorType = "mlp2x_gelu", ImageAspectRatio = "pad", TokenizerModelMaxLength = 2048 }, vocabularySize);

    /// <summary><paramref name="like"/> (a released model's config: its kind, projector, image tokens and tower source)
    /// at <see cref="Demo"/>'s tiny shapes.</summary>
    public static LlavaConfig Shrink(LlavaConfig like, int vocabularySize) => like with
    {
        VocabSize = vocabularySize, HiddenSize = 64, IntermediateSize = 160, NumHiddenLayers = 2,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 2048,
        MmHiddenSize = 32,
        Vision = like.Vision with
        {
            HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 2, ImageSize = 56, PatchSize = 14,
        },
    };

    /// <summary>A model with weights drawn from a private generator, uniform within 1/sqrt(fan-in) as torch's default
    /// layers draw (unit norm scales, zero norm biases): unlike <see cref="WeightInitialization"/>'s normal(0, 0.02)
    /// this gives a tiny model's logits clear maxima, so greedy tokens do not hinge on rounding. Tests run in
    /// parallel, so torch's global generator would give no reproducible weights.</summary>
    public static LlavaForCausalLM Create(LlavaConfig config, int seed = 7)
    {
        var model = new LlavaForCausalLM(config);
        using var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        using var one = 1.0.ToScalar(); // explicit Scalars: see TensorArithmetic
        foreach (var (name, parameter) in model.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal))
        {
            if (WeightInitialization.IsNormScale(name))
            {
                if (name.EndsWith("weight", StringComparison.Ordinal)) parameter.fill_(one);
                else parameter.zero_();
                continue;
            }
            double bound = 1 / Math.Sqrt(parameter.dim() >= 2 ? parameter.numel() / parameter.shape[0] : parameter.shape[0]);
            parameter.uniform_(-bound, bound, generator);
        }
        model.eval();
        return model;
    }

    /// <summary>Standard-normal pixel tensors for <see cref="Config"/>'s tower, from a private (CPU) generator.</summary>
    public static Tensor Images(int count, int seed = 11)
    {
        using var generator = new Generator((ulong)seed);
        return randn([count, 3, ImageSize, ImageSize], generator: generator, device: CPU);
    }
}
