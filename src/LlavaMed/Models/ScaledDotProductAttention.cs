using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>softmax(q kᵀ / √d + mask) v for [B, H, T, d] queries and [B, H/r, K, d] keys and values (grouped-query
/// attention: key/value head j serves query heads jr..jr+r-1), by the kernel that is fastest for the dtype. libtorch's
/// fused CPU kernel (flash attention) suits float32; for bfloat16 and float16 on the CPU the explicit product is faster
/// at the small models' head sizes (16-32): on the peer benchmark's shapes ([8, 4, 320, 32] causal and [8, 4, 257, 16])
/// forward and backward took 18 and 6 ms instead of 22 and 16 (bf16, 2 threads). Heads larger than
/// <see cref="MaxExplicitHeadSize"/> keep the fused kernel. The explicit product's softmax runs in the input dtype, as
/// Hugging Face's eager attention returns it (libtorch's CPU softmax accumulates a reduced dtype in float32).</summary>
public static class ScaledDotProductAttention
{
    /// <param name="additiveMask">[B, 1, T, K] (0 or a large negative), or null</param>
    /// <param name="causal">with a null mask: query t sees keys 0..t (T equals K)</param>
    public static Tensor Compute(Tensor query, Tensor key, Tensor value, Tensor? additiveMask, bool causal)
    {
        if (!UsesExplicitProduct(query))
        {
            // TorchSharp's kernel has no GQA flag: the key/value heads are repeated for it.
            long repeats = query.shape[1] / key.shape[1];
            if (repeats > 1)
            {
                key = key.repeat_interleave(repeats, dim: 1);
                value = value.repeat_interleave(repeats, dim: 1);
            }
            return additiveMask is not null
                ? functional.scaled_dot_product_attention(query, key, value, additiveMask)
                : functional.scaled_dot_product_attention(query, key, value, is_casual: causal);
        }
        return Explicit(query, key, value, additiveMask, causal);
    }

    /// <summary>The largest head size that takes the explicit product: the measured regime. Real models' heads (128 in
    /// Mistral-7B) keep the fused kernel, which also never holds the [T, T] scores, for long rows' sake.</summary>
    public const long MaxExplicitHeadSize = 64;

    /// <summary>Whether <see cref="Compute"/> takes the explicit product for <paramref name="query"/>'s dtype, device and head size.</summary>
    public static bool UsesExplicitProduct(Tensor query) =>
        query.device.type == DeviceType.CPU && (query.dtype == bfloat16 || query.dtype == float16) && query.shape[^1] <= MaxExplicitHeadSize;

    /// <summary>The explicit product: scores, mask, softmax, weighted values (public so that tests compare it with the
    /// fused kernel). Its two products are <see cref="ReducedPrecisionProducts.Matmul"/>'s. Grouped query heads share their key/value head's product: the r query heads of a group are
    /// stacked as r x T rows against its keys, so keys and values are never repeated.</summary>
    public static Tensor Explicit(Tensor query, Tensor key, Tensor value, Tensor? additiveMask, bool causal)
    {
        using var scope = NewDisposeScope();
        long batch = query.shape[0], heads = query.shape[1], length = query.shape[2], dim = query.shape[3];
        long groups = key.shape[1], repeats = heads / groups, keys = key.shape[2];
        using var scale = (1 / Math.Sqrt(dim)).ToScalar(); // explicit Scalars: see TensorArithmetic
        var scores = ReducedPrecisionProducts.Matmul(query.mul(scale).reshape(batch, groups, repeats * length, dim), key.transpose(-2, -1))
            .view(batch, groups, repeats, length, keys);
        if (additiveMask is not null) scores = scores.Plus(additiveMask.unsqueeze(2));
        else if (causal)
        {
            // -inf above the diagonal, added: the same scores as masked_fill for finite scores (x + -inf = -inf; bf16
            // cannot overflow at these head sizes, fp16 can, so it keeps masked_fill), but a vectorised add
            // instead of libtorch's scalar masked_fill loop in the forward and again in the backward (measured on
            // the peer's decoder shapes in bf16: 45 -> 33 ms forward+backward on 1 thread, 33 -> 28 on 2).
            using var negative = double.NegativeInfinity.ToScalar();
            scores = scores.dtype == float16
                ? scores.masked_fill(ones(length, keys, dtype: @bool, device: query.device).triu(1), negative)
                : scores.Plus(full(length, keys, negative, dtype: scores.dtype, device: query.device).triu(1));
        }
        var probabilities = scores.softmax(-1).view(batch, groups, repeats * length, keys);
        return ReducedPrecisionProducts.Matmul(probabilities, value).view(batch, heads, length, dim).MoveToOuterDisposeScope();
    }
}
