using LlavaMed.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Training;

/// <summary>LoRA (Hu et al. 2021) on the language model's linear layers, attached as forward hooks so the
/// model's own modules and checkpoint keys stay as they are: y = W x + (alpha / rank) B A dropout(x), with A
/// Kaiming-uniform and B zero so training starts from the base model. A and B are float32 whatever the base's dtype,
/// and the adapter path runs in float32 as PEFT does (input cast to float32, the bf16 base output added in float32,
/// the sum cast back), so a bfloat16 base trains float32 adapters. <see cref="Merge"/> folds B A into W and
/// detaches the hooks, leaving a plain model to save in the released layout.</summary>
public sealed class LoraAdapters : IDisposable
{
    readonly List<(string Name, LinearLayer Target, Parameter A, Parameter B, Action RemoveHook)> adapters = [];
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
        options.Validate();
        var lora = new LoraAdapters(options.Alpha / options.Rank, options.Dropout);
        using var generator = new Generator(seed);
        foreach (var (name, module) in model.named_modules())
        {
            if (module is not LinearLayer linear || !IsTarget(name, options)) continue;
            var weight = linear.Weight;
            // PEFT's default: kaiming_uniform_(a=sqrt(5)), i.e. uniform(+-1/sqrt(fan_in)).
            var bound = 1.0 / Math.Sqrt(weight.shape[1]);
            var a = new Parameter(empty(options.Rank, weight.shape[1], dtype: float32, device: weight.device));
            using (no_grad()) a.uniform_(-bound, bound, generator);
            var b = new Parameter(zeros(weight.shape[0], options.Rank, dtype: float32, device: weight.device));
            lora.Add(name, linear, a, b);
        }
        if (lora.adapters.Count == 0)
            throw new ArgumentException($"no decoder Linear matches the LoRA targets {string.Join(", ", options.Targets)}");
        return lora;
    }

    /// <summary>Whether the Linear module <paramref name="name"/> gets an adapter: a decoder layer's, named by a target.</summary>
    public static bool IsTarget(string name, LoraOptions options) =>
        name.StartsWith("model.layers.", StringComparison.Ordinal) && options.Targets.Any(t => LoraOptions.Matches(name, t));

    /// <summary>Adapters with given weights (A [rank, in], B [out, rank], copied to float32) on the named linear
    /// layers of <paramref name="model"/>, scaled by <paramref name="scale"/>, without dropout: trained adapters
    /// loaded onto a base (<see cref="PeftAdapters"/>). A name that is not a Linear of the model, or a shape that
    /// does not fit it, is an error naming it.</summary>
    public static LoraAdapters FromWeights(LlavaForCausalLM model, IReadOnlyDictionary<string, (Tensor A, Tensor B)> weights, double scale)
    {
        var linears = model.named_modules().Where(m => m.module is LinearLayer).ToDictionary(m => m.name, m => (LinearLayer)m.module);
        var lora = new LoraAdapters(scale, dropout: 0);
        foreach (var (name, (a, b)) in weights.OrderBy(w => w.Key, StringComparer.Ordinal))
        {
            if (!linears.TryGetValue(name, out var linear)) throw new ArgumentException($"LoRA adapter for {name}: the model has no such linear layer");
            var weight = linear.Weight;
            if (a.dim() != 2 || b.dim() != 2 || a.shape[1] != weight.shape[1] || b.shape[0] != weight.shape[0] || a.shape[0] != b.shape[1])
                throw new ArgumentException($"LoRA adapter for {name}: A [{string.Join(", ", a.shape)}] and B [{string.Join(", ", b.shape)}] "
                                            + $"do not fit the weight [{string.Join(", ", weight.shape)}]");
            // Detached from any dispose scope: the adapters live as long as the model uses them.
            lora.Add(name, linear, new Parameter(a.to(float32, weight.device, copy: true).DetachFromDisposeScope(), requires_grad: false),
                     new Parameter(b.to(float32, weight.device, copy: true).DetachFromDisposeScope(), requires_grad: false));
        }
        return lora;
    }

    void Add(string name, LinearLayer linear, Parameter a, Parameter b)
    {
        var hook = linear.register_forward_hook((_, input, output) => AddDelta(output, input, a, b));
        adapters.Add((name, linear, a, b, hook.remove));
    }

    /// <summary>output + scale B A dropout(input), the adapter path in the adapters' dtype (float32).</summary>
    Tensor AddDelta(Tensor output, Tensor input, Parameter a, Parameter b)
    {
        var dropped = input.to(a.dtype);
        if (a.requires_grad && dropout > 0)
        {
            using var probability = dropout.ToScalar();
            using var keepScale = (1 / (1 - dropout)).ToScalar();
            var keep = rand(dropped.shape, dtype: dropped.dtype, device: dropped.device, generator: DropoutGenerator).ge(probability);
            dropped = dropped.mul(keep).mul(keepScale);
        }
        var delta = functional.linear(functional.linear(dropped, a), b).mul(scale);
        return output.dtype == delta.dtype ? output.Plus(delta) : output.to(delta.dtype).Plus(delta).to(output.dtype);
    }

    /// <summary>The adapters on <paramref name="module"/>'s linear layers (for gradient checkpointing, which
    /// recomputes a layer and must differentiate the adapters its hooks use).</summary>
    public IEnumerable<Parameter> ParametersIn(Module module)
    {
        var linears = module.modules().ToHashSet(ReferenceEqualityComparer.Instance);
        return adapters.Where(x => linears.Contains(x.Target)).SelectMany(x => new[] { x.A, x.B });
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
        using var _ = no_grad();
        foreach (var (_, target, a, b, removeHook) in adapters)
        {
            // A scope per layer: a 7B model's float32 temporaries of all layers at once would not fit in memory.
            using var scope = NewDisposeScope();
            var weight = target.Weight;
            var delta = b.matmul(a).mul(scale);
            if (weight.dtype == delta.dtype) weight.PlusInPlace(delta);
            else weight.copy_(weight.to(delta.dtype).Plus(delta)); // summed in float32, rounded once
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
