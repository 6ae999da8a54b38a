using LlavaMed.Checkpoints;
using LlavaMed.Distributed;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Training;

/// <summary>ZeRO stage 1 (Rajbhandari et al. 2020): AdamW whose state is sharded across the ranks. Each parameter
/// group is laid out as one flat vector (parameters in order, padded to a multiple of the world size); rank r owns
/// the r-th contiguous part and keeps, for it only, float32 master weights and both moments. A step reduce-scatters
/// the gradients (each rank receives the sum of its part), clips on the global norm (sums of squares all-reduced),
/// applies <see cref="AdamWOptimizer"/>'s update to its part and all-gathers the updated weights into every rank's
/// parameters. Optimiser memory per rank falls from 12 bytes per parameter (float32 master, two moments) to 12/N;
/// the bytes moved per step equal an all-reduce's. The state file is <see cref="AdamWOptimizer"/>'s (gathered on
/// save), so runs resume with or without sharding and on any number of ranks.</summary>
public sealed class ZeroAdamWOptimizer : IDisposable
{
    /// <summary>Where a parameter lies in its group's flat vector, and the part of it in this rank's shard.</summary>
    sealed record Slot(Parameter Parameter, long Start, long ShardOffset, long ParameterOffset, long Length);

    sealed class GroupShard(ParameterGroup group, Slot[] slots, long flatLength, long shardStart, long shardLength)
    {
        public ParameterGroup Group { get; } = group;
        /// <summary>The group's parameters' device: the shard's state and staging vectors live there.</summary>
        public Device Device { get; } = slots[0].Parameter.device;
        public Slot[] Slots { get; } = slots;
        public long FlatLength { get; } = flatLength;
        public long ShardStart { get; } = shardStart;
        public long ShardLength { get; } = shardLength;
        public Tensor Master { get; set; } = null!;
        public Tensor ExpAvg { get; set; } = null!;
        public Tensor ExpAvgSq { get; set; } = null!;
    }

    readonly ProcessGroup processGroup;
    readonly double beta1, beta2, epsilon, weightDecay;
    readonly List<GroupShard> shards = [];
    readonly Dictionary<Parameter, long> steps = new(ReferenceEqualityComparer.Instance);

    public IReadOnlyList<ParameterGroup> Groups { get; }
    public IEnumerable<Parameter> Parameters => Groups.SelectMany(g => g.Parameters);

    public ZeroAdamWOptimizer(IEnumerable<ParameterGroup> groups, ProcessGroup processGroup, double beta1 = 0.9, double beta2 = 0.999,
                              double epsilon = 1e-8, double weightDecay = 0)
    {
        this.processGroup = processGroup;
        (this.beta1, this.beta2, this.epsilon, this.weightDecay) = (beta1, beta2, epsilon, weightDecay);
        Groups = groups.ToList();
        int ranks = processGroup.WorldSize;
        using var noGrad = no_grad();
        foreach (var group in Groups)
        {
            long total = group.Parameters.Sum(p => p.numel());
            if (total == 0) continue; // e.g. an identity projector's empty group: nothing to shard
            long shardLength = (total + ranks - 1) / ranks;
            long shardStart = processGroup.Rank * shardLength;
            var slots = new List<Slot>();
            long start = 0;
            foreach (var parameter in group.Parameters)
            {
                long from = Math.Max(start, shardStart), to = Math.Min(start + parameter.numel(), shardStart + shardLength);
                slots.Add(new Slot(parameter, start, from - shardStart, from - start, Math.Max(0, to - from)));
                start += parameter.numel();
                steps[parameter] = 0;
            }
            var shard = new GroupShard(group, [.. slots], shardLength * ranks, shardStart, shardLength);
            using var flat = Flatten(shard, p => p);
            shard.Master = flat.narrow(0, shardStart, shardLength).clone().DetachFromDisposeScope();
            shard.ExpAvg = zeros(shardLength, ScalarType.Float32, shard.Device).DetachFromDisposeScope();
            shard.ExpAvgSq = zeros(shardLength, ScalarType.Float32, shard.Device).DetachFromDisposeScope();
            shards.Add(shard);
        }
    }

    /// <summary>The group's flat float32 vector of <paramref name="select"/>(parameter) on the group's device (zeros
    /// where it returns null, and in the padding).</summary>
    static Tensor Flatten(GroupShard shard, Func<Parameter, Tensor?> select)
    {
        using var scope = NewDisposeScope();
        var parts = shard.Slots.Select(s => select(s.Parameter)?.detach().reshape(-1).to(ScalarType.Float32, shard.Device)
                                              ?? zeros(s.Parameter.numel(), ScalarType.Float32, shard.Device)).ToList();
        long padding = shard.FlatLength - shard.Slots.Sum(s => s.Parameter.numel());
        if (padding > 0) parts.Add(zeros(padding, ScalarType.Float32, shard.Device));
        return cat(parts.ToArray()).MoveToOuterDisposeScope();
    }

    public void ZeroGrad()
    {
        foreach (var parameter in Parameters)
        {
            using var gradient = parameter.grad;
            gradient?.zero_();
        }
    }

    /// <summary>Sums the gradients over the ranks into the shards, clips them to <paramref name="maxGradNorm"/> on the
    /// global norm (0: no clipping), updates the shards and gathers the parameters. Returns the global norm.</summary>
    public double Step(double maxGradNorm)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var all = Parameters.ToList();
        var device = all.Count > 0 ? all[0].device : CPU;
        var present = tensor(all.Select(p => p.grad is null ? 0f : 1f).ToArray(), device: device);
        processGroup.AllReduceSum(present);
        var flags = present.data<float>().ToArray();
        var hasGradient = new HashSet<Parameter>(all.Where((_, i) => flags[i] > 0), ReferenceEqualityComparer.Instance);

        var gradients = shards.Select(shard =>
        {
            using var flat = Flatten(shard, p => p.grad);
            var mine = zeros(shard.ShardLength, ScalarType.Float32, shard.Device);
            processGroup.ReduceScatterSum(flat, mine);
            return mine;
        }).ToList();

        var squares = tensor(new[] { gradients.Sum(g => g.dot(g).item<float>()) }, ScalarType.Float64, device);
        processGroup.AllReduceSum(squares);
        double norm = Math.Sqrt(squares.item<double>());
        if (maxGradNorm > 0)
        {
            // As torch.nn.utils.clip_grad_norm_: scale by min(1, max / (norm + 1e-6)).
            using var coefficient = Math.Min(1.0, maxGradNorm / (norm + 1e-6)).ToScalar();
            foreach (var gradient in gradients) gradient.mul_(coefficient);
        }

        foreach (var parameter in hasGradient) steps[parameter]++;
        using var hyper = new AdamWOptimizer.Hyperparameters(beta1, beta2, epsilon, weightDecay);
        foreach (var (shard, gradient) in shards.Zip(gradients))
        {
            using var decay = hyper.Decay(shard.Group.LearningRate);
            foreach (var slot in shard.Slots.Where(s => s.Length > 0 && hasGradient.Contains(s.Parameter)))
            {
                using var master = shard.Master.narrow(0, slot.ShardOffset, slot.Length);
                using var expAvg = shard.ExpAvg.narrow(0, slot.ShardOffset, slot.Length);
                using var expAvgSq = shard.ExpAvgSq.narrow(0, slot.ShardOffset, slot.Length);
                using var slotGradient = gradient.narrow(0, slot.ShardOffset, slot.Length);
                AdamWOptimizer.Update(master, slotGradient, expAvg, expAvgSq, steps[slot.Parameter], shard.Group.LearningRate, decay, hyper);
            }
            var gathered = Gather(shard, shard.Master);
            foreach (var slot in shard.Slots.Where(s => hasGradient.Contains(s.Parameter)))
            {
                using var part = gathered.narrow(0, slot.Start, slot.Parameter.numel());
                using var shaped = part.view(slot.Parameter.shape);
                slot.Parameter.copy_(shaped);
            }
        }
        return norm;
    }

    /// <summary>The shard's group's index among all groups (the state file's key; empty groups have no shard).</summary>
    int GroupIndex(GroupShard shard) => Groups.ToList().IndexOf(shard.Group);

    Tensor Gather(GroupShard shard, Tensor part)
    {
        var full = empty(shard.FlatLength, ScalarType.Float32, shard.Device);
        processGroup.AllGather(part, full);
        return full;
    }

    /// <summary>The whole state in <see cref="AdamWOptimizer.Save"/>'s layout, gathered from every rank: a collective
    /// that every rank calls; the tensors belong to the caller's dispose scope.</summary>
    public Dictionary<string, Tensor> GatherState()
    {
        var state = new Dictionary<string, Tensor>();
        foreach (var shard in shards)
        {
            int g = GroupIndex(shard);
            var expAvg = Gather(shard, shard.ExpAvg);
            var expAvgSq = Gather(shard, shard.ExpAvgSq);
            foreach (var (slot, i) in shard.Slots.Select((s, i) => (s, i)))
            {
                var key = AdamWOptimizer.StateKey(g, i);
                state[$"{key}.exp_avg"] = expAvg.narrow(0, slot.Start, slot.Parameter.numel()).view(slot.Parameter.shape).clone();
                state[$"{key}.exp_avg_sq"] = expAvgSq.narrow(0, slot.Start, slot.Parameter.numel()).view(slot.Parameter.shape).clone();
                state[$"{key}.step"] = tensor(new[] { steps[slot.Parameter] });
            }
        }
        return state;
    }

    /// <summary>Takes this rank's shard of a state file written by <see cref="AdamWOptimizer.Save"/> (or gathered
    /// from another number of ranks); strict like <see cref="AdamWOptimizer.Load"/>. Master weights restart from the
    /// parameters (exact for float32 models).</summary>
    public void Load(string path)
    {
        using var file = SafetensorsFile.Open(path);
        AdamWOptimizer.CheckStateNames(file, path, shards.SelectMany(s => s.Slots.Select((_, i) => AdamWOptimizer.StateKey(GroupIndex(s), i))));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var shard in shards)
        {
            var keys = shard.Slots.Select((_, i) => AdamWOptimizer.StateKey(GroupIndex(shard), i)).ToArray();
            foreach (var (slot, key) in shard.Slots.Zip(keys))
            {
                foreach (var suffix in new[] { "exp_avg", "exp_avg_sq" })
                {
                    var saved = file.ReadTensor($"{key}.{suffix}");
                    if (!saved.shape.SequenceEqual(slot.Parameter.shape))
                        throw new CheckpointFormatException(path, $"{key}.{suffix} has shape [{string.Join(", ", saved.shape)}], the parameter "
                            + $"[{string.Join(", ", slot.Parameter.shape)}]");
                }
                steps[slot.Parameter] = file.ReadTensor($"{key}.step").item<long>();
            }
            foreach (var (suffix, target) in new[] { ("exp_avg", shard.ExpAvg), ("exp_avg_sq", shard.ExpAvgSq) })
            {
                var byParameter = shard.Slots.Zip(keys).ToDictionary(x => x.First.Parameter, x => file.ReadTensor($"{x.Second}.{suffix}"), ReferenceEqualityComparer.Instance);
                using var flat = Flatten(shard, p => byParameter[p]);
                target.copy_(flat.narrow(0, shard.ShardStart, shard.ShardLength));
            }
            using var parameters = Flatten(shard, p => p);
            shard.Master.copy_(parameters.narrow(0, shard.ShardStart, shard.ShardLength));
        }
    }

    public void Dispose()
    {
        foreach (var shard in shards)
        {
            shard.Master.Dispose();
            shard.ExpAvg.Dispose();
            shard.ExpAvgSq.Dispose();
        }
        shards.Clear();
    }
}
