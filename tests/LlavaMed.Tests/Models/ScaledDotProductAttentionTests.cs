using LlavaMed.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

/// <summary>The explicit product (taken for bfloat16 and float16 on the CPU) against libtorch's fused kernel.</summary>
public sealed class ScaledDotProductAttentionTests
{
    static (Tensor Query, Tensor Key, Tensor Value, Tensor Mask) Inputs(ScalarType dtype, long keyValueHeads = 4)
    {
        using var generator = new Generator(3);
        Tensor Draw(long heads) => randn([2, heads, 6, 16], generator: generator).to(dtype).requires_grad_(true);
        var mask = AttentionMask.Build(tensor(new long[,] { { 1, 1, 1, 1, 1, 0 }, { 1, 1, 1, 1, 1, 1 } }), 2, 6, 0, null, dtype, CPU)!;
        return (Draw(4), Draw(keyValueHeads), Draw(keyValueHeads), mask);
    }

    [Theory]
    [InlineData("none", 4)]
    [InlineData("causal", 4)]
    [InlineData("mask", 4)]
    [InlineData("causal", 2)]
    [InlineData("mask", 2)]
    public void TheExplicitProductEqualsTheFusedKernelInFloat32WithItsGradients(string masking, long keyValueHeads)
    {
        using var scope = NewDisposeScope();
        var (query, key, value, mask) = Inputs(float32, keyValueHeads);
        var additive = masking == "mask" ? mask : null;
        bool causal = masking == "causal";
        Tensor[] OutputAndGradients(Func<Tensor> attention)
        {
            foreach (var t in new[] { query, key, value }) t.grad = null;
            var output = attention();
            output.sum().backward();
            return [output.detach(), query.grad!.clone(), key.grad!.clone(), value.grad!.clone()];
        }
        // The fused kernel on key/value heads repeated for each query head of their group (grouped-query attention).
        long repeats = 4 / keyValueHeads;
        var fused = OutputAndGradients(() => additive is null
            ? nn.functional.scaled_dot_product_attention(query, key.repeat_interleave(repeats, 1), value.repeat_interleave(repeats, 1), is_casual: causal)
            : nn.functional.scaled_dot_product_attention(query, key.repeat_interleave(repeats, 1), value.repeat_interleave(repeats, 1), additive));
        var explicitProduct = OutputAndGradients(() => ScaledDotProductAttention.Explicit(query, key, value, additive, causal));
        for (int i = 0; i < fused.Length; i++)
            Assert.True(fused[i].allclose(explicitProduct[i], rtol: 1e-5, atol: 1e-6), $"tensor {i} (output, then dq, dk, dv) differs");
    }

    [Fact]
    public void TheAddedCausalMaskGivesTheSameValuesAsMaskedFillWithItsGradients()
    {
        using var scope = NewDisposeScope();
        var (query, key, value, _) = Inputs(bfloat16, keyValueHeads: 4); // one query head per key head: only the mask differs
        Tensor[] OutputAndGradients(Func<Tensor> attention)
        {
            foreach (var t in new[] { query, key, value }) t.grad = null;
            var output = attention();
            output.backward([output.detach().cos()]);
            return [output.detach(), query.grad!.clone(), key.grad!.clone(), value.grad!.clone()];
        }
        // The plain computation: the future keys' scores set to -inf by masked_fill.
        Tensor Plain()
        {
            using var scale = (1 / Math.Sqrt(16)).ToScalar();
            using var negative = double.NegativeInfinity.ToScalar();
            var scores = query.mul(scale).matmul(key.transpose(-2, -1));
            var future = ones(6, 6, dtype: @bool).triu(1);
            return scores.masked_fill(future, negative).softmax(-1).matmul(value);
        }
        var plain = OutputAndGradients(Plain);
        var added = OutputAndGradients(() => ScaledDotProductAttention.Explicit(query, key, value, null, causal: true));
        for (int i = 0; i < plain.Length; i++)
            Assert.True(plain[i].to(float32).eq(added[i].to(float32)).all().item<bool>(), $"tensor {i} (output, then dq, dk, dv) differs"); // bf16 to float32 is exact
    }

    [Fact]
    public void BFloat16TakesTheExplicitProductAndStaysWithinItsRoundingOfFloat32()
    {
        using var scope = NewDisposeScope();
        var (query, key, value, mask) = Inputs(bfloat16, keyValueHeads: 2);
        Assert.True(ScaledDotProductAttention.UsesExplicitProduct(query));
        Assert.False(ScaledDotProductAttention.UsesExplicitProduct(query.to(float32)));
        Assert.False(ScaledDotProductAttention.UsesExplicitProduct(zeros([1, 32, 4, 128], bfloat16))); // a 7B model's heads
        var reduced = ScaledDotProductAttention.Compute(query, key, value, mask, causal: true).to(float32);
        var reference = nn.functional.scaled_dot_product_attention(query.to(float32), key.to(float32).repeat_interleave(2, 1),
                                                                   value.to(float32).repeat_interleave(2, 1), mask.to(float32));
        // bf16 keeps 8 bits of mantissa: the probabilities and the products round at ~0.4 %.
        Assert.True(reduced.allclose(reference, rtol: 2e-2, atol: 2e-2), $"max difference {(reduced - reference).abs().max().item<float>()}");
    }
}
