using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>Rotary position embeddings in Hugging Face's <c>rotate_half</c> layout (the two halves of each head
/// rotate together), with <c>rope_theta</c> from the config.</summary>
public static class RotaryEmbedding
{
    /// <summary>cos and sin for the given positions: [B, T, head_dim], float32.</summary>
    public static (Tensor Cos, Tensor Sin) CosSin(Tensor positionIds, int headDim, double theta)
    {
        using var scope = NewDisposeScope();
        using var zero = 0.ToScalar(); // explicit Scalars: see TensorArithmetic
        using var end = headDim.ToScalar();
        using var two = 2.ToScalar();
        using var dimension = ((double)headDim).ToScalar();
        var exponents = arange(zero, end, two, dtype: float32, device: positionIds.device).div(dimension);
        var inverseFrequencies = tensor((float)theta, device: positionIds.device).pow(exponents).reciprocal();
        var angles = positionIds.to(float32).unsqueeze(-1) * inverseFrequencies; // [B, T, hd/2]
        var doubled = cat([angles, angles], -1);
        return (doubled.cos().MoveToOuterDisposeScope(), doubled.sin().MoveToOuterDisposeScope());
    }

    /// <summary>Rotates [B, H, T, hd] queries or keys; cos/sin are [B, T, hd] in their dtype (the decoder converts
    /// <see cref="CosSin"/>'s float32 tables once per forward, as Hugging Face's rotary module returns them).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var rotatedHalf = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
        if (cos.dtype != x.dtype) throw new ArgumentException($"rotary tables are {cos.dtype}, the queries/keys {x.dtype}");
        return (x * cos.unsqueeze(1)).Plus(rotatedHalf * sin.unsqueeze(1)).MoveToOuterDisposeScope();
    }
}
