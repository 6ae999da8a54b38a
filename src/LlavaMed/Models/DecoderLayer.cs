using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>One pre-norm decoder block: x + attn(norm(x)), then + mlp(norm(.)).</summary>
public sealed class DecoderLayer : Module
{
    private readonly DecoderAttention self_attn;
    private readonly DecoderMlp mlp;
    private readonly RmsNorm input_layernorm;
    private readonly RmsNorm post_attention_layernorm;
    private readonly int index;

    public DecoderLayer(LlavaConfig config, int index, ParameterPlacement placement) : base(nameof(DecoderLayer))
    {
        self_attn = new DecoderAttention(config, placement);
        mlp = new DecoderMlp(config, placement);
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, placement);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, placement);
        this.index = index;
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, Tensor? additiveMask, KeyValueCache? cache)
    {
        using var scope = NewDisposeScope();
        var afterAttention = hidden.Plus(self_attn.Forward(input_layernorm.forward(hidden), cos, sin, additiveMask, cache, index));
        return afterAttention.Plus(mlp.forward(post_attention_layernorm.forward(afterAttention))).MoveToOuterDisposeScope();
    }
}
