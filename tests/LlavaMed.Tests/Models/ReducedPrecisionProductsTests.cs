using LlavaMed.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

/// <summary>The widened products (float32 arithmetic, rounded back once) against a float64 reference and libtorch's
/// native reduced-precision kernels. The widened result is the float64 value rounded once (u: bf16 2^-8, fp16 2^-11
/// relative), up to float32 summation error; the native kernel also accumulates in float32 but rounds the product
/// and then the bias sum separately, so it is held to two roundings of the terms' magnitude.</summary>
public sealed class ReducedPrecisionProductsTests
{
    static double UnitRoundoff(ScalarType dtype) => dtype == ScalarType.BFloat16 ? Math.Pow(2, -8) : Math.Pow(2, -11);

    /// <summary>|actual - expected| ≤ roundings u |bounded| + 1e-5 |magnitude| (float32 summation over ≤ 100 terms:
    /// ~6e-6 of the terms' magnitude) for every element.</summary>
    static void AssertWithin(Tensor expected64, Tensor actual, Tensor bounded, Tensor magnitude, double roundings, ScalarType dtype, string what)
    {
        Assert.Equal(dtype, actual.dtype);
        var error = (actual.to(float64) - expected64).abs();
        var bound = bounded.abs().mul(roundings * UnitRoundoff(dtype)) + magnitude.mul(1e-5) + 1e-12;
        var worst = (error - bound).max().item<double>();
        Assert.True(worst <= 0, $"{what}: an element is {worst:E2} beyond {roundings} rounding(s)");
    }

    /// <summary>The product's output and the gradients of the (non-null) <paramref name="arguments"/> for
    /// <paramref name="upstream"/>, from fresh gradients.</summary>
    static Tensor[] OutputAndGradients(Func<Tensor> product, Tensor upstream, params Tensor?[] arguments)
    {
        foreach (var argument in arguments) if (argument is not null) argument.grad = null;
        var output = product();
        output.backward([upstream]);
        return [output.detach(), .. arguments.OfType<Tensor>().Select(a => a.grad!.clone())];
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, true)]
    [InlineData(ScalarType.BFloat16, false)]
    [InlineData(ScalarType.Float16, true)]
    public void TheWidenedLinearRoundsOnceAndTheNativeKernelAtMostTwiceWithTheirGradients(ScalarType dtype, bool withBias)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        var input = randn([3, 40, 96], generator: generator).to(dtype).requires_grad_(true);
        var weight = randn([72, 96], generator: generator).mul(0.1).to(dtype).requires_grad_(true);
        var bias = withBias ? randn([72], generator: generator).to(dtype).requires_grad_(true) : null;
        var upstream = randn([3, 40, 72], generator: generator).to(dtype);
        Tensor?[] arguments = [input, weight, bias];
        var widened = OutputAndGradients(() => ReducedPrecisionProducts.WidenedLinear(input, weight, bias), upstream, arguments);
        var native = OutputAndGradients(() => nn.functional.linear(input, weight, bias), upstream, arguments);
        // float64 references of the output and of the gradients (dy W, dyᵀ x, Σ dy), and their terms' magnitudes.
        var (x, w, dy) = (input.detach().to(float64), weight.detach().to(float64), upstream.to(float64));
        var b = bias is null ? zeros(72, dtype: float64) : bias.detach().to(float64);
        Tensor[] expected = [x.matmul(w.t()) + b, dy.matmul(w), dy.reshape(-1, 72).t().matmul(x.reshape(-1, 96)), dy.sum([0, 1])];
        Tensor[] magnitudes = [x.abs().matmul(w.abs().t()) + b.abs(), dy.abs().matmul(w.abs()), dy.reshape(-1, 72).abs().t().matmul(x.reshape(-1, 96).abs()),
                               dy.abs().sum([0, 1])];
        string[] names = ["output", "input gradient", "weight gradient", "bias gradient"];
        for (int i = 0; i < widened.Length; i++)
        {
            AssertWithin(expected[i], widened[i], expected[i], magnitudes[i], 1, dtype, $"widened {names[i]}");
            AssertWithin(expected[i], native[i], magnitudes[i], magnitudes[i], 2, dtype, $"native {names[i]}");
        }
    }

    [Fact]
    public void TheWidenedAndTheNativeBatchedMatmulsRoundOnceWithTheirGradients()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(6);
        var left = randn([2, 3, 70, 16], generator: generator).to(bfloat16).requires_grad_(true);
        var right = randn([2, 3, 16, 40], generator: generator).to(bfloat16).requires_grad_(true);
        var upstream = randn([2, 3, 70, 40], generator: generator).to(bfloat16);
        var (a, b, dc) = (left.detach().to(float64), right.detach().to(float64), upstream.to(float64));
        Tensor[] expected = [a.matmul(b), dc.matmul(b.transpose(-2, -1)), a.transpose(-2, -1).matmul(dc)];
        Tensor[] magnitudes = [a.abs().matmul(b.abs()), dc.abs().matmul(b.abs().transpose(-2, -1)), a.abs().transpose(-2, -1).matmul(dc.abs())];
        var widened = OutputAndGradients(() => ReducedPrecisionProducts.WidenedMatmul(left, right), upstream, left, right);
        var native = OutputAndGradients(() => left.matmul(right), upstream, left, right);
        string[] names = ["product", "left gradient", "right gradient"];
        for (int i = 0; i < expected.Length; i++)
        {
            AssertWithin(expected[i], widened[i], expected[i], magnitudes[i], 1, bfloat16, $"widened {names[i]}");
            AssertWithin(expected[i], native[i], expected[i], magnitudes[i], 1, bfloat16, $"native {names[i]}");
        }
    }

    [Fact]
    public void ReducedPrecisionProductsOfManyRowsOnTheCpuAreWidenedAndMatmulsOnlyUnrecorded()
    {
        using var scope = NewDisposeScope();
        bool cpuLacksBf16 = ReducedPrecisionProducts.WidensOnThisCpu(bfloat16);
        long enough = ReducedPrecisionProducts.MinRowsToWiden;
        Assert.False(ReducedPrecisionProducts.WidensOnThisCpu(float32));
        Assert.False(ReducedPrecisionProducts.Widens(zeros(1000, 8, dtype: float32), 1000));
        Assert.False(ReducedPrecisionProducts.Widens(zeros(enough - 1, 8, dtype: bfloat16), enough - 1));
        Assert.Equal(cpuLacksBf16, ReducedPrecisionProducts.Widens(zeros(enough, 8, dtype: bfloat16), enough));
        // The dispatching entry points give the chosen kernel's values exactly (one decode row: always native).
        var input = ones(enough, 8, dtype: bfloat16).cumsum(0).div(7).to(bfloat16);
        var weight = ones(5, 8, dtype: bfloat16).cumsum(1).div(3).to(bfloat16);
        var chosen = cpuLacksBf16 ? ReducedPrecisionProducts.WidenedLinear(input, weight, null) : nn.functional.linear(input, weight);
        Assert.True(chosen.equal(ReducedPrecisionProducts.Linear(input, weight)).all().item<bool>());
        Assert.True(nn.functional.linear(input[..1], weight).equal(ReducedPrecisionProducts.Linear(input[..1], weight)).all().item<bool>());
        // Matmuls, recorded or not, likewise; one over a broadcast batch that autograd records stays native.
        var left = randn(2, enough, 8).to(bfloat16).requires_grad_(true);
        var right = randn(2, 8, 5).to(bfloat16);
        var widenedOrNative = cpuLacksBf16 ? ReducedPrecisionProducts.WidenedMatmul(left, right) : left.matmul(right);
        Assert.True(widenedOrNative.equal(ReducedPrecisionProducts.Matmul(left, right)).all().item<bool>());
        var broadcast = right[0];
        Assert.True(left.matmul(broadcast).equal(ReducedPrecisionProducts.Matmul(left, broadcast)).all().item<bool>());
    }

    [Fact]
    public void TheRecordedWidenedLinearDifferentiatesOnlyWhatRequiresGradients()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(8);
        var input = randn([70, 16], generator: generator).to(bfloat16).requires_grad_(true);
        var frozen = randn([12, 16], generator: generator).to(bfloat16); // a LoRA base weight
        var bias = randn([12], generator: generator).to(bfloat16).requires_grad_(true);
        var upstream = randn([70, 12], generator: generator).to(bfloat16);
        ReducedPrecisionProducts.WidenedLinear(input, frozen, bias).backward([upstream]);
        Assert.Null(frozen.grad);
        Assert.Equal(bfloat16, input.grad!.dtype);
        Assert.Equal(bfloat16, bias.grad!.dtype);
        var dy = upstream.to(float64);
        AssertWithin(dy.matmul(frozen.to(float64)), input.grad, dy.matmul(frozen.to(float64)), dy.abs().matmul(frozen.to(float64).abs()), 1, bfloat16, "input gradient");
        AssertWithin(dy.sum([0L]), bias.grad, dy.sum([0L]), dy.abs().sum([0L]), 1, bfloat16, "bias gradient");
        // A second backward through a new graph (the node releases the gradients it returned before).
        input.grad = null;
        ReducedPrecisionProducts.WidenedLinear(input, frozen, null).sum().backward();
        Assert.True(input.grad!.to(float64).allclose(ones(70, 12, dtype: float64).matmul(frozen.to(float64)), rtol: 1e-2, atol: 1e-2));
    }
}
