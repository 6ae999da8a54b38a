using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>Mistral/LLaMA self-attention (projections run through <c>call</c> so LoRA hooks apply): rotary positions, grouped-query attention (key/value heads repeated,
/// since TorchSharp's scaled_dot_product_attention has no GQA flag), no biases.</summary>
public sealed class DecoderAttention : Module
{
    private readonly Linear q_proj, k_proj, v_proj, o_proj;
    private readonly int heads, kvHeads, headDim;
    private readonly double ropeTheta;

    public DecoderAttention(LlavaConfig config, ParameterPlacement placement) : base(nameof(DecoderAttention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.NumKeyValueHeads;
        headDim = config.HeadDim;
        ropeTheta = config.RopeTheta;
        q_proj = Linear(config.HiddenSize, heads * headDim, hasBias: false, device: placement.Device, dtype: placement.Dtype);
        k_proj = Linear(config.HiddenSize, kvHeads * headDim, hasBias: false, device: placement.Device, dtype: placement.Dtype);
        v_proj = Linear(config.HiddenSize, kvHeads * headDim, hasBias: false, device: placement.Device, dtype: placement.Dtype);
        o_proj = Linear(heads * headDim, config.HiddenSize, hasBias: false, device: placement.Device, dtype: placement.Dtype);
        RegisterComponents();
    }

    /// <param name="hidden">[B, T, D]</param>
    /// <param name="cos">rotary cos for these positions, [B, T, head_dim]</param>
    /// <param name="sin">rotary sin, [B, T, head_dim]</param>
    /// <param name="additiveMask">[B, 1, T, past+T] (0 or a large negative), or null for plain causal</param>
    public Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, Tensor? additiveMask, KeyValueCache? cache, int layerIndex)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        Tensor Split(Tensor x, int count) => x.view(batch, length, count, headDim).transpose(1, 2);
        var query = RotaryEmbedding.Apply(Split(q_proj.call(hidden), heads), cos, sin);
        var key = RotaryEmbedding.Apply(Split(k_proj.call(hidden), kvHeads), cos, sin);
        var value = Split(v_proj.call(hidden), kvHeads);
        if (cache is not null) (key, value) = cache.Append(layerIndex, key, value);
        int repeats = heads / kvHeads;
        if (repeats > 1)
        {
            key = key.repeat_interleave(repeats, dim: 1);
            value = value.repeat_interleave(repeats, dim: 1);
        }
        var attended = additiveMask is null
            ? functional.scaled_dot_product_attention(query, key, value, is_casual: true)
            : functional.scaled_dot_product_attention(query, key, value, additiveMask);
        var merged = attended.transpose(1, 2).reshape(batch, length, heads * headDim);
        return o_proj.call(merged).MoveToOuterDisposeScope();
    }
}
