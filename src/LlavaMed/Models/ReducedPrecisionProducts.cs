using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>The model's matrix products (every linear layer, the explicit attention's two products) for bfloat16 and
/// float16 tensors. On a CPU without instructions for the dtype (x86 without avx512_bf16/amx_bf16, resp.
/// avx512_fp16/amx_fp16) libtorch emulates the reduced-precision product at about a third of the float32 speed
/// (measured on an Intel Xeon with AVX-512 but no avx512_bf16, 2 threads: [512, 1024] x [1024, 1024] 55 against
/// 185 GFLOP/s; a bf16 [2560, 128] x [128, 344] linear 8.1 ms, widened 2.3 ms). There the operands are widened to
/// float32, multiplied (bias included), and the result rounded back once. The native kernel also accumulates in
/// float32 and rounds the product, then rounds the bias sum again: the widened result is as exact or more (tested
/// against float64 in ReducedPrecisionProductsTests). Products with few rows (decoding: one row per
/// sequence) stay native, because widening the weight costs more memory traffic than the product (a 4096 x 4096
/// bf16 weight: 1 row 6.5 ms native against 45 widened, 128 rows 101 against 44), and so do products that autograd
/// records (see <see cref="Widens"/>): this serves answering, evaluation and frozen parts (the vision tower under
/// no_grad). CUDA, and CPUs with the instructions, always take the native kernel.</summary>
public static class ReducedPrecisionProducts
{
    /// <summary>The fewest rows per product for which widening pays on such a CPU (break-even measured at 32-48
    /// rows for a 4096 x 4096 weight).</summary>
    public const long MinRowsToWiden = 64;

    /// <summary>x Wᵀ + b, as <c>functional.linear</c>.</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) =>
        Widens(input, weight, input.numel() / Math.Max(1, input.shape[^1])) ? WidenedLinear(input, weight, bias) : functional.linear(input, weight, bias);

    /// <summary>a b (batched over leading dimensions), as <c>matmul</c>; rows are <paramref name="left"/>'s second-to-last dimension.</summary>
    public static Tensor Matmul(Tensor left, Tensor right) =>
        Widens(left, right, left.dim() < 2 ? 1 : left.shape[^2]) ? WidenedMatmul(left, right) : left.matmul(right);

    /// <summary>Whether the product of <paramref name="left"/> (<paramref name="rows"/> rows) and <paramref name="right"/>
    /// is widened: on such a CPU, with enough rows, and only where autograd does not record it. A recorded widened
    /// product would keep its float32 copies for the backward, twice the memory of the operands the native kernel keeps
    /// (a 7B model's weights alone: 28 GB), which no memory plan counts; so training keeps the native kernel.</summary>
    public static bool Widens(Tensor left, Tensor right, long rows) =>
        rows >= MinRowsToWiden && left.device.type == DeviceType.CPU && WidensOnThisCpu(left.dtype)
        && !(is_grad_enabled() && (left.requires_grad || right.requires_grad));

    /// <summary>Whether this CPU lacks instructions for <paramref name="dtype"/>'s products (<see cref="MachineProbe.NativeFlag"/>;
    /// false for float32/64, and where the CPU's flags cannot be read: then libtorch's own kernel is kept).</summary>
    public static bool WidensOnThisCpu(ScalarType dtype) =>
        dtype is ScalarType.BFloat16 or ScalarType.Float16 && MachineProbe.ThisCpusFlags is { } flags && MachineProbe.NativeFlag(flags, dtype) is null;

    /// <summary>The widened linear (public so that tests compare it with the native kernel on any CPU).</summary>
    public static Tensor WidenedLinear(Tensor input, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        return functional.linear(input.to(ScalarType.Float32), weight.to(ScalarType.Float32), bias?.to(ScalarType.Float32))
            .to(input.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The widened matmul (public for the same comparison).</summary>
    public static Tensor WidenedMatmul(Tensor left, Tensor right)
    {
        using var scope = NewDisposeScope();
        return left.to(ScalarType.Float32).matmul(right.to(ScalarType.Float32)).to(left.dtype).MoveToOuterDisposeScope();
    }
}
