using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>nn.Linear (parameters <c>weight</c> [out, in] and <c>bias</c> [out], the checkpoint keys; drawn as
/// nn.Linear draws them) whose product is <see cref="ReducedPrecisionProducts.Linear"/>: bfloat16/float16 layers run
/// their products in float32 on CPUs without instructions for those dtypes. TorchSharp's Linear is sealed, so the
/// model's layers are this module; forward hooks (LoRA) attach to it as to any module.</summary>
public sealed class LinearLayer : nn.Module<Tensor, Tensor>
{
    // Field names are the parameter names (RegisterComponents).
    private Parameter weight;
    private Parameter? bias;

    public LinearLayer(long inFeatures, long outFeatures, bool hasBias, ParameterPlacement placement) : base(nameof(LinearLayer))
    {
        // nn.Linear's own initialisation (the same random draws as before this module existed); its tensors are taken
        // over (detached handles of the same storage) before the temporary module is disposed with its own handles.
        using var drawn = nn.Linear(inFeatures, outFeatures, hasBias, placement.Device, placement.Dtype);
        weight = new Parameter(drawn.weight!.detach());
        bias = drawn.bias is { } drawnBias ? new Parameter(drawnBias.detach()) : null;
        RegisterComponents();
    }

    /// <summary>[out, in]</summary>
    public Parameter Weight => weight;

    /// <summary>[out], or null</summary>
    public Parameter? Bias => bias;

    /// <summary>Swaps the parameters (see <see cref="ParameterMaterialization"/>); a bias only where there is one.</summary>
    internal void ReplaceParameters(Parameter replacementWeight, Parameter? replacementBias)
    {
        if ((bias is null) != (replacementBias is null)) throw new ArgumentException("a bias replaces a bias");
        weight.Dispose();
        bias?.Dispose();
        weight = replacementWeight;
        ConditionallyRegisterParameter(nameof(weight), replacementWeight);
        if (replacementBias is not null)
        {
            bias = replacementBias;
            ConditionallyRegisterParameter(nameof(bias), replacementBias);
        }
    }

    public override Tensor forward(Tensor input) => ReducedPrecisionProducts.Linear(input, weight, bias);
}
