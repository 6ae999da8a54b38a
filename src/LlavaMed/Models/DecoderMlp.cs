using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>The SiLU-gated feed-forward block: down(silu(gate(x)) * up(x)).</summary>
public sealed class DecoderMlp : Module<Tensor, Tensor>
{
    private readonly LinearLayer gate_proj, up_proj, down_proj;

    public DecoderMlp(LlavaConfig config, ParameterPlacement placement) : base(nameof(DecoderMlp))
    {
        gate_proj = new LinearLayer(config.HiddenSize, config.IntermediateSize, hasBias: false, placement);
        up_proj = new LinearLayer(config.HiddenSize, config.IntermediateSize, hasBias: false, placement);
        down_proj = new LinearLayer(config.IntermediateSize, config.HiddenSize, hasBias: false, placement);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return down_proj.call(functional.silu(gate_proj.call(hidden)) * up_proj.call(hidden))
            .MoveToOuterDisposeScope();
    }
}
