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

    /// <summary>Pre-norm attention and MLP, each added to the residual stream. (Naming: <c>forward</c> is TorchSharp's
    /// one-input <c>Module&lt;Tensor, Tensor&gt;.forward</c>; <c>Forward</c> is this workbench's for modules with more inputs.)
    /// With <paramref name="queries"/> ([B, Q] positions) only those positions are computed and returned, [B, Q, D];
    /// <paramref name="additiveMask"/> is then their rows, [B, 1, Q, T].</summary>
    public Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, Tensor? additiveMask, KeyValueCache? cache, Tensor? queries = null)
    {
        using var scope = NewDisposeScope();
        var normed = input_layernorm.forward(hidden);
        var residual = queries is null ? hidden : DecoderAttention.AtPositions(hidden, queries);
        var afterAttention = residual.Plus(self_attn.Forward(normed, cos, sin, additiveMask, cache, index, queries));
        var mlpOutput = mlp.forward(post_attention_layernorm.forward(afterAttention));
        return afterAttention.Plus(mlpOutput).MoveToOuterDisposeScope();
    }
}
