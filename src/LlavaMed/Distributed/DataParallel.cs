using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Distributed;

/// <summary>What data-parallel training does with a process group: start every rank from rank 0's tensors, and sum
/// the ranks' gradients after <c>backward()</c> (TorchSharp has no backward hooks to overlap it with the backward
/// pass). Both move tensors in fused flat float32 buckets: a few large collectives instead of one per parameter, and
/// bfloat16 gradients summed in float32.</summary>
public static class DataParallel
{
    /// <summary>Elements per bucket: 25 MiB of float32, PyTorch DDP's default bucket size.</summary>
    public const long BucketElements = 25L << 18;

    /// <summary>Overwrites <paramref name="tensors"/> on every rank with rank 0's values (sent as float32: exact for
    /// float32 and bfloat16 values and for counts below 2^24).</summary>
    public static void BroadcastFromMain(ProcessGroup group, IReadOnlyList<Tensor> tensors, long bucketElements = BucketElements)
    {
        if (group.WorldSize == 1) return;
        using var noGrad = no_grad();
        foreach (var bucket in Buckets(tensors.Select(t => t.numel()).ToArray(), bucketElements))
        {
            using var scope = NewDisposeScope();
            var members = bucket.Select(i => tensors[i]).ToArray();
            var flat = cat(members.Select(t => t.detach().reshape(-1).to(ScalarType.Float32)).ToArray());
            group.Broadcast(flat, root: 0);
            Unflatten(flat, members);
        }
    }

    /// <summary>Replaces every parameter's gradient with the sum over the ranks. A parameter that has no gradient on
    /// any rank keeps none (the optimiser skips it, as in one process); one that has a gradient on some rank gets
    /// the sum on every rank.</summary>
    public static void AllReduceGradients(ProcessGroup group, IReadOnlyList<Parameter> parameters, long bucketElements = BucketElements)
    {
        if (group.WorldSize == 1) return;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var present = tensor(parameters.Select(p => p.grad is null ? 0f : 1f).ToArray());
        group.AllReduceSum(present);
        var hasGradient = present.data<float>().ToArray().Select(x => x > 0).ToArray();
        var reduced = Enumerable.Range(0, parameters.Count).Where(i => hasGradient[i]).ToArray();
        foreach (var bucket in Buckets(reduced.Select(i => parameters[i].numel()).ToArray(), bucketElements))
        {
            using var bucketScope = NewDisposeScope();
            var members = bucket.Select(b => parameters[reduced[b]]).ToArray();
            var flat = cat(members.Select(p => p.grad is { } g ? g.reshape(-1).to(ScalarType.Float32) : zeros(p.numel(), ScalarType.Float32)).ToArray());
            group.AllReduceSum(flat);
            foreach (var parameter in members)
                if (parameter.grad is null) parameter.grad = zeros_like(parameter).DetachFromDisposeScope();
            Unflatten(flat, members.Select(p => p.grad!).ToArray());
        }
    }

    /// <summary>Consecutive index groups whose sizes add up to at most <paramref name="limit"/> (a larger tensor is a
    /// bucket of its own; the collectives chunk it).</summary>
    internal static List<int[]> Buckets(long[] sizes, long limit)
    {
        var buckets = new List<int[]>();
        var current = new List<int>();
        long filled = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            if (current.Count > 0 && filled + sizes[i] > limit)
            {
                buckets.Add([.. current]);
                current.Clear();
                filled = 0;
            }
            current.Add(i);
            filled += sizes[i];
        }
        if (current.Count > 0) buckets.Add([.. current]);
        return buckets;
    }

    static void Unflatten(Tensor flat, IReadOnlyList<Tensor> targets)
    {
        long offset = 0;
        foreach (var target in targets)
        {
            using var part = flat.narrow(0, offset, target.numel());
            using var shaped = part.view(target.shape);
            target.copy_(shaped);
            offset += target.numel();
        }
    }
}
