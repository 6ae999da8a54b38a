using static TorchSharp.torch;

namespace LlavaMed.Distributed;

/// <summary>The ranks of a job and the collectives data-parallel training needs, on tensors: every rank calls the
/// same collectives in the same order with tensors of the same shape. Reductions are sums. A collective that does not
/// complete within <see cref="Timeout"/> throws <see cref="CollectiveTimeoutException"/>; <see cref="Abort"/> ends
/// every rank of the job, so a failing rank never leaves the others waiting.</summary>
public abstract class ProcessGroup : IDisposable
{
    public abstract int Rank { get; }
    public abstract int WorldSize { get; }
    /// <summary>The rank among the processes on this machine (which GPU to use).</summary>
    public abstract int LocalRank { get; }
    public abstract string Backend { get; }
    public TimeSpan Timeout { get; init; } = new CollectiveOptions().Timeout;

    public bool IsMain => Rank == 0;

    /// <summary>Time this rank has spent waiting for collectives to complete (data moved, and waiting for slower
    /// ranks), for the benchmark's split of a step into communication and compute.</summary>
    public TimeSpan CommunicationTime { get; protected set; }

    /// <summary>Replaces <paramref name="tensor"/> with the sum of every rank's tensor (in place).</summary>
    public abstract void AllReduceSum(Tensor tensor);

    /// <summary>Replaces <paramref name="tensor"/> on every rank with <paramref name="root"/>'s.</summary>
    public abstract void Broadcast(Tensor tensor, int root = 0);

    /// <summary>Writes every rank's <paramref name="shard"/> into <paramref name="output"/> (WorldSize x the shard's
    /// elements, rank order).</summary>
    public abstract void AllGather(Tensor shard, Tensor output);

    /// <summary>Sums <paramref name="input"/> (WorldSize x the shard's elements) over the ranks and writes this rank's
    /// part of the sum into <paramref name="shard"/>.</summary>
    public abstract void ReduceScatterSum(Tensor input, Tensor shard);

    public abstract void Barrier();

    /// <summary>Ends every rank of the job with <paramref name="exitCode"/>; does not return.</summary>
    public abstract void Abort(int exitCode);

    public virtual void Dispose() { }

    /// <summary>The group this process was launched into: world size 1 without a launcher (no MPI needed), otherwise
    /// MPI (CPU tensors) or NCCL (CUDA tensors, bootstrapped over MPI).</summary>
    public static ProcessGroup Create(LaunchEnvironment launch, CollectiveOptions? options = null)
    {
        options ??= new CollectiveOptions();
        if (!launch.IsDistributed) return new SingleProcessGroup { Timeout = options.Timeout };
        var mpi = MpiProcessGroup.Initialize(launch, options);
        if (options.Backend == CollectiveBackend.Mpi) return mpi;
        try
        {
            return NcclProcessGroup.Create(mpi, options.Timeout);
        }
        catch
        {
            mpi.Dispose();
            throw;
        }
    }

    protected static void CheckSameElements(Tensor a, long expected, string what)
    {
        if (a.numel() != expected) throw new ArgumentException($"{what} has {a.numel()} elements, expected {expected}");
    }
}

public enum CollectiveBackend { Mpi, Nccl }

/// <summary>How a job's collectives run: the backend, how long one may take before the job is aborted (long enough
/// for a checkpoint that rank 0 writes while the others wait at the next collective), and the most elements one MPI
/// call carries (MPI counts are C ints; smaller only to test chunking).</summary>
public sealed record CollectiveOptions
{
    public CollectiveBackend Backend { get; init; } = CollectiveBackend.Mpi;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);
    public long MaxElementsPerCall { get; init; } = 1L << 28;
}

/// <summary>A collective did not complete in time: another rank failed, hangs or never reached it.</summary>
public sealed class CollectiveTimeoutException(string message) : Exception(message);

/// <summary>The native collective library failed or is missing.</summary>
public sealed class DistributedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>World size 1: every collective is the identity (a copy where input and output differ).</summary>
public sealed class SingleProcessGroup : ProcessGroup
{
    public override int Rank => 0;
    public override int WorldSize => 1;
    public override int LocalRank => 0;
    public override string Backend => "single";

    public override void AllReduceSum(Tensor tensor) { }

    public override void Broadcast(Tensor tensor, int root = 0) =>
        ArgumentOutOfRangeException.ThrowIfNotEqual(root, 0);

    public override void AllGather(Tensor shard, Tensor output)
    {
        CheckSameElements(output, shard.numel(), "all-gather output");
        using var noGrad = no_grad();
        output.view(-1).copy_(shard.reshape(-1));
    }

    public override void ReduceScatterSum(Tensor input, Tensor shard)
    {
        CheckSameElements(input, shard.numel(), "reduce-scatter input");
        using var noGrad = no_grad();
        shard.view(-1).copy_(input.reshape(-1));
    }

    public override void Barrier() { }

    public override void Abort(int exitCode) => Environment.Exit(exitCode);
}
