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
/// bf16 weight: 1 row 6.5 ms native against 45 widened, 128 rows 101 against 44). CUDA, and CPUs with the
/// instructions, always take the native kernel.</summary>
public static class ReducedPrecisionProducts
{
    /// <summary>The fewest rows per product for which widening pays on such a CPU (break-even measured at 32-48
    /// rows for a 4096 x 4096 weight).</summary>
    public const long MinRowsToWiden = 64;

    /// <summary>x Wᵀ + b, as <c>functional.linear</c>.</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) =>
        Widens(input, input.numel() / Math.Max(1, input.shape[^1])) ? WidenedLinear(input, weight, bias) : functional.linear(input, weight, bias);

    /// <summary>a b (batched over leading dimensions), as <c>matmul</c>; rows are <paramref name="left"/>'s
    /// second-to-last dimension.</summary>
    public static Tensor Matmul(Tensor left, Tensor right) =>
        Widens(left, left.dim() < 2 ? 1 : left.shape[^2]) && (!Recorded(left, right) || SameBatch(left, right)) ? WidenedMatmul(left, right) : left.matmul(right);

    /// <summary>Whether both are matrices or batches of the same leading shape (what the recorded node differentiates;
    /// a broadcast batch keeps the native kernel).</summary>
    static bool SameBatch(Tensor left, Tensor right) =>
        left.dim() >= 2 && left.dim() == right.dim() && left.shape[..^2].SequenceEqual(right.shape[..^2]);

    /// <summary>Whether a product of <paramref name="rows"/> rows in <paramref name="left"/>'s dtype and device is
    /// widened (<see cref="Matmul"/> also asks, where autograd records it, for operands of one batch shape).</summary>
    public static bool Widens(Tensor left, long rows) =>
        rows >= MinRowsToWiden && left.device.type == DeviceType.CPU && WidensOnThisCpu(left.dtype);

    static bool Recorded(Tensor left, Tensor right) => is_grad_enabled() && (left.requires_grad || right.requires_grad);

    /// <summary>Whether this CPU lacks instructions for <paramref name="dtype"/>'s products (<see cref="MachineProbe.NativeFlag"/>;
    /// false for float32/64, and where the CPU's flags cannot be read: then libtorch's own kernel is kept).</summary>
    public static bool WidensOnThisCpu(ScalarType dtype) =>
        dtype is ScalarType.BFloat16 or ScalarType.Float16 && MachineProbe.ThisCpusFlags is { } flags && MachineProbe.NativeFlag(flags, dtype) is null;

    /// <summary>The widened linear (public so that tests compare it with the native kernel on any CPU). Recorded by
    /// autograd, it is one node (<see cref="RecordedWidenedProduct"/>) that keeps the reduced-precision input and weight,
    /// as the native kernel's node does, and widens them again in the backward: keeping the float32 copies instead
    /// would double that memory (a 7B model's weights alone: 28 GB) unseen by any memory plan.</summary>
    public static Tensor WidenedLinear(Tensor input, Tensor weight, Tensor? bias)
    {
        if (Recorded(input, weight) || (is_grad_enabled() && bias is { requires_grad: true }))
            return RecordedWidenedProduct.apply(true, input, weight, bias!)[0];
        using var scope = NewDisposeScope();
        return functional.linear(input.to(ScalarType.Float32), weight.to(ScalarType.Float32), bias?.to(ScalarType.Float32))
            .to(input.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The widened products' autograd node, over (linear?, a, b, bias): a linear y = round(x Wᵀ + b) with
    /// dx = round(dy W), dW = round(dyᵀ x), db = round(Σ dy); a matmul C = round(A B) with dA = round(dC Bᵀ),
    /// dB = round(Aᵀ dC). Each is computed in float32 from the kept reduced-precision tensors, and only for the
    /// arguments that require gradients (a frozen LoRA base computes no weight gradient).</summary>
    sealed class RecordedWidenedProduct : autograd.MultiTensorFunction<RecordedWidenedProduct>
    {
        public override string Name => nameof(RecordedWidenedProduct);

        static Tensor Wide(Tensor t) => t.to(ScalarType.Float32);

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (linear, a, b, bias) = ((bool)vars[0], (Tensor)vars[1], (Tensor)vars[2], vars[3] as Tensor);
            ctx.save_for_backward([a, b]);
            ctx.save_data("linear", linear);
            ctx.save_data("needs", new[] { a.requires_grad, b.requires_grad, bias is { requires_grad: true } });
            using var scope = NewDisposeScope();
            var product = linear ? functional.linear(Wide(a), Wide(b), bias is null ? null : Wide(bias)) : Wide(a).matmul(Wide(b));
            return [product.to(a.dtype).MoveToOuterDisposeScope()];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
        {
            ReturnedGradients.Release();
            using var scope = NewDisposeScope();
            using var noGraph = no_grad(); // the gradients are values, not a graph to differentiate again
            var (linear, needs) = ((bool)ctx.get_data("linear"), (bool[])ctx.get_data("needs"));
            var saved = ctx.get_saved_variables();
            var (a, b) = (saved[0], saved[1]);
            var output = Wide(gradOutputs[0]);
            Tensor?[] gradients;
            if (linear)
            {
                var outputRows = output.reshape(-1, output.shape[^1]);
                gradients =
                [
                    needs[0] ? output.matmul(Wide(b)).to(a.dtype) : null,
                    needs[1] ? outputRows.t().matmul(Wide(a).reshape(-1, a.shape[^1])).to(b.dtype) : null,
                    needs[2] ? outputRows.sum([0L]).to(b.dtype) : null,
                ];
            }
            else
                gradients =
                [
                    needs[0] ? output.matmul(Wide(b).transpose(-2, -1)).to(a.dtype) : null,
                    needs[1] ? Wide(a).transpose(-2, -1).matmul(output).to(b.dtype) : null,
                    null,
                ];
            ReturnedGradients.Hold(gradients);
            return [null!, .. gradients.Select(g => g!)];
        }
    }

    /// <summary>The widened matmul (public for the same comparison); recorded, one node as the linear's.</summary>
    public static Tensor WidenedMatmul(Tensor left, Tensor right)
    {
        if (Recorded(left, right)) return RecordedWidenedProduct.apply(false, left, right, null!)[0];
        using var scope = NewDisposeScope();
        return left.to(ScalarType.Float32).matmul(right.to(ScalarType.Float32)).to(left.dtype).MoveToOuterDisposeScope();
    }
}
