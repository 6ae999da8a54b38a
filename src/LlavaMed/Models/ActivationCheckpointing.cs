using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>A stack of layers that can trade compute for memory (the decoder's and CLIP's encoder layers).</summary>
public interface ICheckpointedLayers
{
    /// <summary>When set, training forwards keep only each layer's inputs and recompute the layer in the backward.</summary>
    ActivationCheckpointing? Checkpointing { get; set; }
}

/// <summary>Gradient (activation) checkpointing (Chen et al. 2016; PyTorch's <c>torch.utils.checkpoint</c>, which
/// TorchSharp 0.107 lacks): a layer runs without recording its graph, only its inputs are kept, and the backward runs
/// it again with the graph recorded and differentiates that. The gradients equal those of the plain run: the recompute
/// does the same operations, and the generators the layer draws from (LoRA dropout) are rewound to where they stood in
/// the forward, so it replays the same random draws.</summary>
/// <param name="extraParameters">trainable tensors a layer uses that are not its registered parameters (adapters
/// attached as forward hooks): the recompute differentiates them too</param>
/// <param name="generators">the generators a layer's forward may draw from, read at each forward</param>
public sealed class ActivationCheckpointing(Func<Module, IEnumerable<Parameter>>? extraParameters = null,
                                            Func<IEnumerable<Generator>>? generators = null)
{
    readonly Func<Module, IEnumerable<Parameter>> extraParameters = extraParameters ?? (_ => []);
    readonly Func<IEnumerable<Generator>> generators = generators ?? (() => []);

    /// <summary><paramref name="forward"/> of <paramref name="layer"/> over <paramref name="inputs"/> (the first is
    /// the differentiable hidden state; the others, possibly null, are constants such as rotary tables and masks),
    /// checkpointed when the layer trains with gradients enabled, plain otherwise.</summary>
    public static Tensor Run(ActivationCheckpointing? checkpointing, Module layer, Func<Tensor?[], Tensor> forward, params Tensor?[] inputs)
    {
        if (checkpointing is null || !layer.training || !is_grad_enabled()) return forward(inputs);
        var parameters = layer.parameters().Concat(checkpointing.extraParameters(layer)).Where(p => p.requires_grad)
            .Distinct(ReferenceEqualityComparer.Instance).Cast<Parameter>().ToList();
        ReturnedGradients.Release();
        var call = new RecomputedCall(forward, inputs.Length, parameters,
            checkpointing.generators().Select(g => (g, g.get_state().DetachFromDisposeScope())).ToList());
        object[] arguments = [call, .. inputs, .. parameters];
        return RecomputedLayer.apply(arguments)[0];
    }

    /// <summary>What the backward needs to run the layer again: the computation, how many of the arguments are its
    /// inputs, the parameters to differentiate, and each generator's state before the forward drew from it.</summary>
    sealed record RecomputedCall(Func<Tensor?[], Tensor> Forward, int InputCount, IReadOnlyList<Parameter> Parameters,
                                 IReadOnlyList<(Generator Generator, Tensor State)> RandomStates);

    /// <summary>The autograd node: arguments are [call, inputs..., parameters...]; the forward saves the inputs only.</summary>
    sealed class RecomputedLayer : autograd.MultiTensorFunction<RecomputedLayer>
    {
        public override string Name => nameof(RecomputedLayer);

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var call = (RecomputedCall)vars[0];
            var inputs = vars.Skip(1).Take(call.InputCount).Cast<Tensor?>().ToArray();
            ctx.save_data("call", call);
            ctx.save_for_backward(inputs.ToList()!);
            return [call.Forward(inputs)]; // autograd is off here: nothing inside the layer is kept
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
        {
            ReturnedGradients.Release();
            using var scope = NewDisposeScope(); // the recompute's tensors go when this returns
            var call = (RecomputedCall)ctx.get_data("call");
            var saved = ctx.get_saved_variables();
            var hidden = saved[0].detach().requires_grad_(true);
            Tensor?[] inputs = [hidden, .. saved.Skip(1)];
            var current = call.RandomStates.Select(r => r.Generator.get_state()).ToList();
            foreach (var (generator, state) in call.RandomStates) generator.set_state(state);
            Tensor output;
            try
            {
                using var grad = enable_grad();
                output = call.Forward(inputs);
            }
            finally
            {
                foreach (var ((generator, _), state) in call.RandomStates.Zip(current)) generator.set_state(state);
            }
            var gradients = autograd.grad([output], [hidden, .. call.Parameters], [gradOutputs[0]], allow_unused: true);
            ReturnedGradients.Hold(gradients);
            // One gradient per argument: none for the call object and the constant inputs.
            return [null!, gradients[0], .. Enumerable.Repeat<Tensor>(null!, call.InputCount - 1), .. gradients.Skip(1)];
        }
    }
}
