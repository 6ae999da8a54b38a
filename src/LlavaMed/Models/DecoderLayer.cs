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

    public DecoderLayer(LlavaConfig config, int index) : base(nameof(DecoderLayer))
    {
        self_attn = new DecoderAttention(config);
        mlp = new DecoderMlp(config);
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
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
