using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>LLaMA/Mistral RMSNorm (TorchSharp 0.107 has none): normalises in float32, then scales in the input
/// dtype, exactly as Hugging Face does so bf16 runs round the same way.</summary>
public sealed class RmsNorm : Module<Tensor, Tensor>
{
    private Parameter weight;
    // Held for the module's lifetime, never a temporary: see TensorArithmetic.
    private readonly Scalar eps;

    public RmsNorm(int size, double eps, ParameterPlacement placement) : base(nameof(RmsNorm))
    {
        weight = Parameter(ones(size, dtype: placement.Dtype, device: placement.Device));
        this.eps = eps.ToScalar();
        RegisterComponents();
    }

    /// <summary>Swaps the scale for <paramref name="replacement"/> (see <see cref="ParameterMaterialization"/>).</summary>
    internal void ReplaceWeight(Parameter replacement)
    {
        weight.Dispose();
        weight = replacement;
        ConditionallyRegisterParameter(nameof(weight), replacement);
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var x = hidden.to(float32);
        var normalised = x * rsqrt((x * x).mean([-1], keepdim: true).Plus(eps));
        return (weight * normalised.to(hidden.dtype)).MoveToOuterDisposeScope();
    }
}
