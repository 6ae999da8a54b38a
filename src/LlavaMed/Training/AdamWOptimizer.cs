using LlavaMed.Checkpoints;
using LlavaMed.Distributed;
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
        using var hyper = new Hyperparameters(beta1, beta2, epsilon, weightDecay);
        foreach (var group in Groups)
        {
            using var decay = hyper.Decay(group.LearningRate);
            foreach (var parameter in group.Parameters)
            {
                var gradient = parameter.grad;
                if (gradient is null) continue;
                var state = moments[parameter];
                state.Step++;
                Update(state.Master ?? parameter, gradient.to(float32), state.ExpAvg, state.ExpAvgSq, state.Step, group.LearningRate, decay, hyper);
                if (state.Master is not null) parameter.copy_(state.Master);
            }
        }
    }

    /// <summary>The hyper-parameters as the explicit Scalars an update passes to libtorch, disposed after the step.</summary>
    internal sealed class Hyperparameters(double beta1, double beta2, double epsilon, double weightDecay) : IDisposable
    {
        public double Beta1 { get; } = beta1;
        public double Beta2 { get; } = beta2;
        public double WeightDecay { get; } = weightDecay;
        public Scalar Beta1Scalar { get; } = beta1.ToScalar();
        public Scalar Beta2Scalar { get; } = beta2.ToScalar();
        public Scalar OneMinusBeta1 { get; } = (1 - beta1).ToScalar();
        public Scalar OneMinusBeta2 { get; } = (1 - beta2).ToScalar();
        public Scalar Epsilon { get; } = epsilon.ToScalar();

        public Scalar Decay(double learningRate) => (1 - learningRate * WeightDecay).ToScalar();

        public void Dispose()
        {
            foreach (var scalar in new[] { Beta1Scalar, Beta2Scalar, OneMinusBeta1, OneMinusBeta2, Epsilon }) scalar.Dispose();
        }
    }

    /// <summary>PyTorch's single-tensor AdamW update of one parameter (or a slice of one: ZeRO-1 updates its shard
    /// of the flat parameters with the same operations), <paramref name="step"/> counted from 1.</summary>
    internal static void Update(Tensor parameter, Tensor gradient, Tensor expAvg, Tensor expAvgSq, long step, double lr, Scalar decay, Hyperparameters hyper)
    {
        if (hyper.WeightDecay != 0) parameter.mul_(decay);
        double biasCorrection1 = 1 - Math.Pow(hyper.Beta1, step);
        double biasCorrection2 = 1 - Math.Pow(hyper.Beta2, step);
        expAvg.mul_(hyper.Beta1Scalar).add_(gradient, hyper.OneMinusBeta1);
        expAvgSq.mul_(hyper.Beta2Scalar).addcmul_(gradient, gradient, hyper.OneMinusBeta2);
        using var correction2 = Math.Sqrt(biasCorrection2).ToScalar();
        var denominator = expAvgSq.sqrt().div_(correction2).add_(hyper.Epsilon, TensorArithmetic.One);
        using var stepSize = (-lr / biasCorrection1).ToScalar();
        parameter.addcdiv_(expAvg, denominator, stepSize);
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
        CheckStateNames(file, path, Entries().Select(e => e.Key), Entries().Where(e => e.State.Master is not null).Select(e => e.Key));
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

    /// <summary>Makes every rank's state rank 0's (both moments, master copies and the step counts), as after a resume.</summary>
    public void BroadcastFromMain(ProcessGroup group)
    {
        if (group.WorldSize == 1) return;
        using var scope = NewDisposeScope();
        var entries = Entries().ToList();
        var steps = tensor(entries.Select(e => (float)e.State.Step).ToArray(), device: entries.Count > 0 ? entries[0].State.ExpAvg.device : CPU);
        DataParallel.BroadcastFromMain(group, [steps, .. entries.SelectMany(e => e.State.Master is null
                                                                                  ? new[] { e.State.ExpAvg, e.State.ExpAvgSq }
                                                                                  : [e.State.ExpAvg, e.State.ExpAvgSq, e.State.Master])]);
        var received = steps.data<float>().ToArray();
        for (int i = 0; i < entries.Count; i++) entries[i].State.Step = (long)received[i];
    }

    /// <summary>The state file's key of a parameter: group index and index in the group.</summary>
    internal static string StateKey(int group, int index) => $"{group}.{index}";

    /// <summary>Fails naming every missing and unexpected entry when a state file does not hold exactly the step count
    /// and both moments of each key, and the master copy of each of <paramref name="masterKeys"/>.</summary>
    internal static void CheckStateNames(SafetensorsFile file, string path, IEnumerable<string> keys, IEnumerable<string>? masterKeys = null)
    {
        var expected = keys.SelectMany(k => new[] { $"{k}.exp_avg", $"{k}.exp_avg_sq", $"{k}.step" })
            .Concat((masterKeys ?? []).Select(k => $"{k}.master")).ToHashSet();
        var missing = expected.Except(file.Names).Order().ToList();
        var unexpected = file.Names.Except(expected).Order().ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new CheckpointFormatException(path, $"optimiser state does not match the parameter groups; missing [{string.Join(", ", missing)}], unexpected "
                + $"[{string.Join(", ", unexpected)}]");
    }

    IEnumerable<(string Key, Parameter Parameter, Moments State)> Entries() =>
        Groups.SelectMany((group, g) => group.Parameters.Select((parameter, i) => (StateKey(g, i), parameter, moments[parameter])));

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
