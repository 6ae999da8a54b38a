using LlavaMed.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Distributed;

/// <summary>One collective checked against the value it must produce on this rank.</summary>
public sealed record CollectiveCheck(string Name, double MaxError)
{
    public bool Passed => MaxError == 0;
}

/// <summary>Runs every collective of a process group on values whose results are known exactly (small integers, exact
/// in every dtype used): sums of several sizes (1, 7, 1001: uneven, and chunked when the group's calls carry fewer
/// elements), in place on a non-contiguous view, bfloat16 (reduced in float32) and int64, a broadcast from the last
/// rank, an all-gather and a reduce-scatter, a barrier. Like <c>nccl-tests</c>: a check of an installation.</summary>
public static class CollectiveSelfTest
{
    /// <summary>The checks, each run as the sequence reaches it (nothing runs before it is enumerated).</summary>
    public static IEnumerable<CollectiveCheck> Checks(ProcessGroup group)
    {
        int ranks = group.WorldSize, rank = group.Rank;
        double rankSum = ranks * (ranks + 1) / 2.0; // sum over ranks of (rank + 1)
        foreach (var size in new[] { 1, 7, 1001 })
            yield return Check($"all-reduce float32 x{size}", ScaledRamp(size, rank + 1, ScalarType.Float32), group.AllReduceSum, ScaledRamp(size, rankSum, ScalarType.Float32));

        yield return Check("all-reduce float32 in place, non-contiguous view", Transposed(rank + 1), group.AllReduceSum, Transposed(rankSum));
        yield return Check("all-reduce bfloat16 (float32 reduction) x129", ScaledRamp(129, rank + 1, ScalarType.BFloat16), group.AllReduceSum,
            ScaledRamp(129, rankSum, ScalarType.BFloat16));
        yield return Check("all-reduce int64 x33", ScaledRamp(33, rank + 1, ScalarType.Int64), group.AllReduceSum, ScaledRamp(33, rankSum, ScalarType.Int64));

        int root = ranks - 1;
        yield return Check($"broadcast float32 x1001 from rank {root}", rank == root ? ScaledRamp(1001, 1, ScalarType.Float32) : zeros(1001),
                           t => group.Broadcast(t, root), ScaledRamp(1001, 1, ScalarType.Float32));
        yield return Check($"broadcast bfloat16 x65 from rank {root}", rank == root ? ScaledRamp(65, 1, ScalarType.BFloat16) : zeros(65, ScalarType.BFloat16),
                           t => group.Broadcast(t, root), ScaledRamp(65, 1, ScalarType.BFloat16));

        const int shard = 333;
        using (var scope = NewDisposeScope())
        {
            var gathered = zeros(ranks * shard);
            group.AllGather(ScaledRamp(shard, rank + 1, ScalarType.Float32), gathered);
            var expected = cat(Enumerable.Range(0, ranks).Select(r => ScaledRamp(shard, r + 1, ScalarType.Float32)).ToArray());
            yield return new CollectiveCheck($"all-gather float32 {shard} per rank", MaxDifference(gathered, expected));
        }
        using (var scope = NewDisposeScope())
        {
            var input = ScaledRamp(ranks * shard, rank + 1, ScalarType.Float32);
            var mine = zeros(shard);
            group.ReduceScatterSum(input, mine);
            var expected = ScaledRamp(ranks * shard, rankSum, ScalarType.Float32).narrow(0, (long)rank * shard, shard);
            yield return new CollectiveCheck($"reduce-scatter float32 {shard} per rank", MaxDifference(mine, expected));
        }
        group.Barrier();
        yield return new CollectiveCheck("barrier", 0);
    }

    static CollectiveCheck Check(string name, Tensor input, Action<Tensor> collective, Tensor expected)
    {
        using var scope = NewDisposeScope();
        collective(input);
        return new CollectiveCheck(name, MaxDifference(input, expected));
    }

    /// <summary>factor x (1, 2, ..., size) modulo 61 + 1: small integers, exact in bfloat16 after summing a few ranks.</summary>
    static Tensor ScaledRamp(int size, double factor, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var modulus = ScalarOf(61);
        using var zero = ScalarOf(0);
        using var one = ScalarOf(1);
        using var scale = ScalarOf(factor);
        using var stop = ScalarOf(size);
        return arange(zero, stop, one, ScalarType.Float64).remainder(modulus).add_(one, TensorArithmetic.One).mul_(scale).to(dtype).MoveToOuterDisposeScope();
    }

    static Tensor Transposed(double factor) => ScaledRamp(15, factor, ScalarType.Float32).view(3, 5).t();

    static double MaxDifference(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        return actual.to(ScalarType.Float64).sub(expected.to(ScalarType.Float64)).abs().max().item<double>();
    }

    static Scalar ScalarOf(double value) => value.ToScalar();
}
