using LlavaMed.Checkpoints;
using LlavaMed.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Training;

/// <summary>Parameters that share a learning rate (LLaVA's projector group with <c>mm_projector_lr</c>, the
/// language model's group); the schedule sets <see cref="LearningRate"/> before each step.</summary>
public sealed class ParameterGroup(IReadOnlyList<Parameter> parameters, double learningRate)
{
    public IReadOnlyList<Parameter> Parameters { get; } = parameters;
    public double LearningRate { get; set; } = learningRate;
}

/// <summary>AdamW with decoupled weight decay (Loshchilov and Hutter; PyTorch's single-tensor update, which
/// TorchSharp's AdamW also follows, in the same order of operations, so results match it bit for bit). Written here
/// because TorchSharp's AdamW creates Scalars that nothing keeps alive on every step (see
/// <see cref="TensorArithmetic"/>). Mixed precision: the moments are float32 whatever the parameters' dtype, and a
/// parameter that is not float32 (bf16 full fine-tuning) is stepped as a float32 master copy that is then rounded into
/// it: stepping a bf16 weight directly loses every update smaller than half its spacing (1.0 + 1e-4 is 1.0 in bf16),
/// so training silently stops. The state (step count, both moments and any master copy of every parameter) is saved
/// as safetensors, <c>{group}.{index}.exp_avg</c> etc., so a resumed run continues exactly.</summary>
public sealed class AdamWOptimizer : IDisposable
{
    sealed class Moments(Tensor expAvg, Tensor expAvgSq, Tensor? master)
    {
        public Tensor ExpAvg { get; } = expAvg;
        public Tensor ExpAvgSq { get; } = expAvgSq;
        /// <summary>The float32 weights a lower-precision parameter is a rounding of; null for float32 parameters.</summary>
        public Tensor? Master { get; } = master;
        public long Step { get; set; }
    }

    readonly double beta1, beta2, epsilon, weightDecay;
    readonly Dictionary<Parameter, Moments> moments = new(ReferenceEqualityComparer.Instance);

    public IReadOnlyList<ParameterGroup> Groups { get; }

    public AdamWOptimizer(IEnumerable<ParameterGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0)
    {
        Groups = groups.ToList();
        (this.beta1, this.beta2, this.epsilon, this.weightDecay) = (beta1, beta2, epsilon, weightDecay);
        foreach (var parameter in Parameters)
            moments[parameter] = new Moments(zeros_like(parameter, dtype: float32).DetachFromDisposeScope(),
                                             zeros_like(parameter, dtype: float32).DetachFromDisposeScope(),
                                             parameter.dtype == float32 ? null : parameter.to(float32).DetachFromDisposeScope());
    }

    public IEnumerable<Parameter> Parameters => Groups.SelectMany(g => g.Parameters);

    /// <summary>Zeros every gradient (kept allocated, as TorchSharp's optimisers do).</summary>
    public void ZeroGrad()
    {
        foreach (var parameter in Parameters)
        {
            using var gradient = parameter.grad;
            gradient?.zero_();
        }
    }

    /// <summary>One update of every parameter that has a gradient.</summary>
    public void Step()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var beta1Scalar = beta1.ToScalar();
        using var beta2Scalar = beta2.ToScalar();
        using var oneMinusBeta1 = (1 - beta1).ToScalar();
        using var oneMinusBeta2 = (1 - beta2).ToScalar();
        using var epsilonScalar = epsilon.ToScalar();
        foreach (var group in Groups)
        {
            double lr = group.LearningRate;
            using var decay = (1 - lr * weightDecay).ToScalar();
            foreach (var parameter in group.Parameters)
            {
                var gradient = parameter.grad;
                if (gradient is null) continue;
                var state = moments[parameter];
                var weights = state.Master ?? parameter;
                gradient = gradient.to(float32);
                state.Step++;
                if (weightDecay != 0) weights.mul_(decay);
                double biasCorrection1 = 1 - Math.Pow(beta1, state.Step);
                double biasCorrection2 = 1 - Math.Pow(beta2, state.Step);
                state.ExpAvg.mul_(beta1Scalar).add_(gradient, oneMinusBeta1);
                state.ExpAvgSq.mul_(beta2Scalar).addcmul_(gradient, gradient, oneMinusBeta2);
                using var correction2 = Math.Sqrt(biasCorrection2).ToScalar();
                var denominator = state.ExpAvgSq.sqrt().div_(correction2).add_(epsilonScalar, TensorArithmetic.One);
                using var stepSize = (-lr / biasCorrection1).ToScalar();
                weights.addcdiv_(state.ExpAvg, denominator, stepSize);
                if (state.Master is not null) parameter.copy_(state.Master);
            }
        }
    }

    public void Save(string path)
    {
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (key, _, state) in Entries())
        {
            tensors[$"{key}.exp_avg"] = state.ExpAvg;
            tensors[$"{key}.exp_avg_sq"] = state.ExpAvgSq;
            tensors[$"{key}.step"] = tensor(new[] { state.Step });
            if (state.Master is not null) tensors[$"{key}.master"] = state.Master;
        }
        SafetensorsFile.Save(path, tensors);
    }

    /// <summary>Restores the state saved by <see cref="Save"/> for the same parameter groups; strict: a missing,
    /// unexpected or differently shaped entry is an error that names it.</summary>
    public void Load(string path)
    {
        using var file = SafetensorsFile.Open(path);
        var expected = Entries().SelectMany(e => new[] { $"{e.Key}.exp_avg", $"{e.Key}.exp_avg_sq", $"{e.Key}.step" }
            .Concat(e.State.Master is null ? [] : [$"{e.Key}.master"])).ToHashSet();
        var missing = expected.Except(file.Names).Order().ToList();
        var unexpected = file.Names.Except(expected).Order().ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new CheckpointFormatException(path, $"optimiser state does not match the parameter groups; missing [{string.Join(", ", missing)}], unexpected [{string.Join(", ", unexpected)}]");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (key, parameter, state) in Entries())
        {
            var targets = new List<(string, Tensor)> { ("exp_avg", state.ExpAvg), ("exp_avg_sq", state.ExpAvgSq) };
            if (state.Master is not null) targets.Add(("master", state.Master));
            foreach (var (suffix, target) in targets)
            {
                var saved = file.ReadTensor($"{key}.{suffix}");
                if (!saved.shape.SequenceEqual(parameter.shape))
                    throw new CheckpointFormatException(path, $"{key}.{suffix} has shape [{string.Join(", ", saved.shape)}], the parameter [{string.Join(", ", parameter.shape)}]");
                target.copy_(saved);
            }
            state.Step = file.ReadTensor($"{key}.step").item<long>();
        }
    }

    IEnumerable<(string Key, Parameter Parameter, Moments State)> Entries() =>
        Groups.SelectMany((group, g) => group.Parameters.Select((parameter, i) => ($"{g}.{i}", parameter, moments[parameter])));

    public void Dispose()
    {
        foreach (var state in moments.Values)
        {
            state.ExpAvg.Dispose();
            state.ExpAvgSq.Dispose();
            state.Master?.Dispose();
        }
        moments.Clear();
    }
}
