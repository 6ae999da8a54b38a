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
        MmUseImStartEnd = startEnd, TokenizerModelMaxLength = maxLength,
        Vision = new ClipVisionConfig
        {
            HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, ImageSize = 28, PatchSize = 14,
        },
    };

    public static LlavaForCausalLM Create(LlavaConfig config, int seed = 7)
    {
        manual_seed(seed);
        var model = new LlavaForCausalLM(config);
        model.eval();
        return model;
    }

    public static Tensor Images(int count, int seed = 11)
    {
        manual_seed(seed);
        return randn(count, 3, 28, 28);
    }
}
