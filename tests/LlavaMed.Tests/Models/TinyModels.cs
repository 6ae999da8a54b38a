using LlavaMed.Models;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

/// <summary>Small random-weight models for behaviour tests that need no fixture files.</summary>
public static class TinyModels
{
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
            HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, ImageSize = 28, PatchSize = 14,
        },
    };

    /// <summary>Weights drawn from a private generator (uniform within 1/sqrt(fan-in), as torch's default layers
    /// draw; unit norm scales): tests run in parallel, so torch's global generator gives no reproducible weights.</summary>
    public static LlavaForCausalLM Create(LlavaConfig config, int seed = 7)
    {
        var model = new LlavaForCausalLM(config);
        using var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (name, parameter) in model.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal))
        {
            if (name.Contains("norm") || name.Contains("layrnorm")) { if (name.EndsWith("weight")) parameter.fill_(1.0); else parameter.zero_(); continue; }
            double bound = 1 / Math.Sqrt(parameter.dim() >= 2 ? parameter.numel() / parameter.shape[0] : parameter.shape[0]);
            parameter.uniform_(-bound, bound, generator);
        }
        model.eval();
        return model;
    }

    public static Tensor Images(int count, int seed = 11)
    {
        using var generator = new Generator((ulong)seed);
        return randn([count, 3, 28, 28], generator: generator);
    }
}
