using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>Mistral/LLaMA self-attention (projections run through <c>call</c> so LoRA hooks apply): rotary positions,
/// grouped-query attention (<see cref="ScaledDotProductAttention"/>), no biases.</summary>
public sealed class DecoderAttention : Module
{
    private readonly LinearLayer q_proj, k_proj, v_proj, o_proj;
    private readonly int heads, kvHeads, headDim;
    private readonly double ropeTheta;

    public DecoderAttention(LlavaConfig config, ParameterPlacement placement) : base(nameof(DecoderAttention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.NumKeyValueHeads;
        headDim = config.HeadDim;
        ropeTheta = config.RopeTheta;
        q_proj = new LinearLayer(config.HiddenSize, heads * headDim, hasBias: false, placement);
        k_proj = new LinearLayer(config.HiddenSize, kvHeads * headDim, hasBias: false, placement);
        v_proj = new LinearLayer(config.HiddenSize, kvHeads * headDim, hasBias: false, placement);
        o_proj = new LinearLayer(heads * headDim, config.HiddenSize, hasBias: false, placement);
        RegisterComponents();
    }

    /// <param name="hidden">[B, T, D]</param>
    /// <param name="cos">rotary cos for these positions, [B, T, head_dim]</param>
    /// <param name="sin">rotary sin, [B, T, head_dim]</param>
    /// <param name="additiveMask">[B, 1, T, past+T] (0 or a large negative), or null for plain causal</param>
    /// <param name="queries">[B, Q] positions whose outputs are wanted (keys and values still cover all T; the mask is
    /// then [B, 1, Q, T] and required), or null for every position</param>
    public Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, Tensor? additiveMask, KeyValueCache? cache, int layerIndex, Tensor? queries = null)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        if (queries is not null && (additiveMask is null || cache is not null))
            throw new ArgumentException("attention at chosen positions needs their mask rows and no cache");
        Tensor Split(Tensor x, int count) => x.view(batch, x.shape[1], count, headDim).transpose(1, 2);
        var query = queries is null
            ? RotaryEmbedding.Apply(Split(q_proj.call(hidden), heads), cos, sin)
            : RotaryEmbedding.Apply(Split(q_proj.call(AtPositions(hidden, queries)), heads), AtPositions(cos, queries), AtPositions(sin, queries));
        var key = RotaryEmbedding.Apply(Split(k_proj.call(hidden), kvHeads), cos, sin);
        var value = Split(v_proj.call(hidden), kvHeads);
        if (cache is not null) (key, value) = cache.Append(layerIndex, key, value);
        var attended = ScaledDotProductAttention.Compute(query, key, value, additiveMask, causal: true);
        var merged = attended.transpose(1, 2).reshape(batch, query.shape[2], heads * headDim);
        return o_proj.call(merged).MoveToOuterDisposeScope();
    }

    /// <summary>The rows of [B, T, ...] <paramref name="x"/> at [B, Q] <paramref name="positions"/>: [B, Q, ...].</summary>
    public static Tensor AtPositions(Tensor x, Tensor positions)
    {
        var index = positions.view(positions.shape[0], positions.shape[1], 1).expand(-1, -1, x.shape[2]);
        return x.gather(1, index);
    }
}
