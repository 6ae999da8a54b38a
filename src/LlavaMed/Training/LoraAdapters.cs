using LlavaMed.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Training;

/// <summary>LoRA (Hu et al. 2021) on the language model's linear layers, attached as forward hooks so the
/// model's own modules and checkpoint keys stay as they are: y = W x + (alpha / rank) B A dropout(x), with A
/// Kaiming-uniform and B zero so training starts from the base model. <see cref="Merge"/> folds B A into W and
/// detaches the hooks, leaving a plain model to save in the released layout.</summary>
public sealed class LoraAdapters : IDisposable
{
    readonly List<(string Name, Linear Target, Parameter A, Parameter B, Action RemoveHook)> adapters = [];
    readonly Scalar scale; // held alive: see TensorArithmetic
    readonly double dropout;

    LoraAdapters(double scale, double dropout)
    {
        this.scale = scale.ToScalar();
        this.dropout = dropout;
    }

    /// <summary>Where dropout masks come from; the trainer sets one seeded per step so runs repeat exactly.</summary>
    public Generator? DropoutGenerator { get; set; }

    /// <summary>Adapters on every decoder Linear whose name ends with one of the target module names; A is drawn
    /// from a private generator seeded with <paramref name="seed"/>.</summary>
    public static LoraAdapters Attach(LlavaForCausalLM model, LoraOptions options, ulong seed)
    {
        var lora = new LoraAdapters(options.Alpha / options.Rank, options.Dropout);
        using var generator = new Generator(seed);
        foreach (var (name, module) in model.named_modules())
        {
            if (module is not Linear linear || !name.StartsWith("model.layers.", StringComparison.Ordinal)
                || !options.Targets.Any(t => name.EndsWith("." + t, StringComparison.Ordinal))) continue;
            var weight = linear.weight!;
            // PEFT's default: kaiming_uniform_(a=sqrt(5)), i.e. uniform(+-1/sqrt(fan_in)).
            var bound = 1.0 / Math.Sqrt(weight.shape[1]);
            var a = new Parameter(empty(options.Rank, weight.shape[1], dtype: weight.dtype, device: weight.device));
            using (no_grad()) a.uniform_(-bound, bound, generator);
            var b = new Parameter(zeros(weight.shape[0], options.Rank, dtype: weight.dtype, device: weight.device));
            var hook = linear.register_forward_hook((_, input, output) => output.Plus(lora.Delta(input, a, b)));
            lora.adapters.Add((name, linear, a, b, hook.remove));
        }
        if (lora.adapters.Count == 0)
            throw new ArgumentException($"no decoder Linear matches the LoRA targets {string.Join(", ", options.Targets)}");
        return lora;
    }

    Tensor Delta(Tensor input, Parameter a, Parameter b)
    {
        var dropped = input;
        if (a.requires_grad && dropout > 0)
        {
            using var probability = dropout.ToScalar();
            using var keepScale = (1 / (1 - dropout)).ToScalar();
            var keep = rand(input.shape, dtype: input.dtype, device: input.device, generator: DropoutGenerator).ge(probability);
            dropped = input.mul(keep).mul(keepScale);
        }
        return functional.linear(functional.linear(dropped, a), b).mul(scale);
    }

    public IReadOnlyList<Parameter> Parameters => adapters.SelectMany(x => new[] { x.A, x.B }).ToList();

    /// <summary>The adapter tensors under PEFT's names (<c>base_model.model.NAME.lora_A.weight</c>), for
    /// resumable checkpoints.</summary>
    public Dictionary<string, Tensor> StateDict() => adapters
        .SelectMany(x => new[] { ($"base_model.model.{x.Name}.lora_A.weight", (Tensor)x.A), ($"base_model.model.{x.Name}.lora_B.weight", x.B) })
        .ToDictionary(p => p.Item1, p => p.Item2);

    public void Load(IReadOnlyDictionary<string, Tensor> state)
    {
        using var _ = no_grad();
        foreach (var (name, value) in StateDict()) value.copy_(state[name]);
    }

    /// <summary>W += (alpha / rank) B A for every adapter; the hooks are removed.</summary>
    public void Merge()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (_, target, a, b, removeHook) in adapters)
        {
            target.weight!.PlusInPlace(b.matmul(a).mul(scale));
            removeHook();
        }
        adapters.Clear();
    }

    public void Dispose()
    {
        foreach (var adapter in adapters) adapter.RemoveHook();
        adapters.Clear();
    }
}
