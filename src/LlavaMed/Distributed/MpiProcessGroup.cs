using System.Diagnostics;
using static LlavaMed.Distributed.MpiNative;
using static TorchSharp.torch;

namespace LlavaMed.Distributed;

/// <summary>Collectives on Open MPI (<see cref="MpiNative"/>) for CPU tensors. Each collective is started
/// non-blocking and polled with <c>MPI_Test</c> until it completes or <see cref="ProcessGroup.Timeout"/> passes, so a
/// rank that stops answering turns into an exception instead of a hang. Buffers larger than
/// <see cref="MaxElementsPerCall"/> (MPI counts are ints) go in chunks.</summary>
public sealed class MpiProcessGroup : ProcessGroup
{
    readonly Handles handles;
    bool finalized;

    public override int Rank { get; }
    public override int WorldSize { get; }
    public override int LocalRank { get; }
    public override string Backend => "mpi";

    /// <summary>The most elements one MPI call carries (its count is a C int).</summary>
    public long MaxElementsPerCall { get; }

    MpiProcessGroup(Handles handles, int rank, int worldSize, int localRank, long maxElementsPerCall)
    {
        if (maxElementsPerCall is < 1 or > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(maxElementsPerCall), maxElementsPerCall, "between 1 and int.MaxValue");
        this.handles = handles;
        (Rank, WorldSize, LocalRank, MaxElementsPerCall) = (rank, worldSize, localRank, maxElementsPerCall);
    }

    /// <summary>Initialises MPI (once per process) and checks that it agrees with the launcher's environment.</summary>
    public static MpiProcessGroup Initialize(LaunchEnvironment launch, CollectiveOptions options)
    {
        var handles = Handles.Read();
        Check(MPI_Initialized(out var initialized), "MPI_Initialized");
        if (initialized == 0) Check(MPI_Init_thread(IntPtr.Zero, IntPtr.Zero, ThreadSerialized, out _), "MPI_Init_thread");
        Check(MPI_Comm_rank(handles.CommWorld, out var rank), "MPI_Comm_rank");
        Check(MPI_Comm_size(handles.CommWorld, out var size), "MPI_Comm_size");
        if (rank != launch.Rank || size != launch.WorldSize)
            throw new DistributedException($"MPI says rank {rank} of {size}, the {launch.Launcher} environment rank {launch.Rank} of {launch.WorldSize}: launch with Open MPI's "
                + $"mpirun (or srun --mpi=pmix)");
        return new MpiProcessGroup(handles, rank, size, launch.LocalRank, options.MaxElementsPerCall) { Timeout = options.Timeout };
    }

    IntPtr Datatype(Tensor buffer) => buffer.dtype switch
    {
        ScalarType.Float32 => handles.Float,
        ScalarType.Float64 => handles.Double,
        ScalarType.Int64 => handles.Int64,
        ScalarType.Byte => handles.Byte,
        _ => throw new NotSupportedException($"no MPI datatype for {buffer.dtype}"),
    };

    IEnumerable<(long Offset, int Count)> Chunks(long elements)
    {
        for (long offset = 0; offset < elements; offset += MaxElementsPerCall)
            yield return (offset, (int)Math.Min(MaxElementsPerCall, elements - offset));
    }

    public override void AllReduceSum(Tensor tensor)
    {
        using var buffer = TensorBuffer.For(tensor, read: true, write: true);
        var type = Datatype(buffer.Tensor);
        foreach (var (offset, count) in Chunks(buffer.Elements))
        {
            Check(MPI_Iallreduce(InPlace, buffer.Address + (nint)(offset * buffer.ElementSize), count, type, handles.Sum, handles.CommWorld, out var request), "MPI_Iallreduce");
            Wait(request, $"all-reduce of {buffer.Elements} elements");
        }
    }

    public override void Broadcast(Tensor tensor, int root = 0)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, WorldSize);
        using var buffer = TensorBuffer.For(tensor, read: Rank == root, write: Rank != root);
        var type = Datatype(buffer.Tensor);
        foreach (var (offset, count) in Chunks(buffer.Elements))
        {
            Check(MPI_Ibcast(buffer.Address + (nint)(offset * buffer.ElementSize), count, type, root, handles.CommWorld, out var request), "MPI_Ibcast");
            Wait(request, $"broadcast of {buffer.Elements} elements from rank {root}");
        }
    }

    public override void AllGather(Tensor shard, Tensor output)
    {
        CheckSameElements(output, shard.numel() * WorldSize, "all-gather output");
        using var send = TensorBuffer.For(shard, read: true, write: false);
        using var receive = TensorBuffer.For(output, read: false, write: true);
        var type = Datatype(send.Tensor);
        long shardElements = send.Elements;
        if (shardElements <= MaxElementsPerCall)
        {
            Check(MPI_Iallgather(send.Address, (int)shardElements, type, receive.Address, (int)shardElements, type, handles.CommWorld, out var request), "MPI_Iallgather");
            Wait(request, $"all-gather of {shardElements} elements per rank");
            return;
        }
        // Chunk k of every rank's shard arrives contiguously; it goes to column range k of the [ranks, shard] output.
        var columns = receive.Tensor.view(WorldSize, shardElements);
        foreach (var (offset, count) in Chunks(shardElements))
        {
            using var gathered = send.Temporary((long)count * WorldSize);
            Check(MPI_Iallgather(send.Address + (nint)(offset * send.ElementSize), count, type, gathered.Address, count, type, handles.CommWorld, out var request),
                  "MPI_Iallgather");
            Wait(request, $"all-gather of {shardElements} elements per rank");
            using var noGrad = no_grad();
            using var target = columns.narrow(1, offset, count);
            using var source = gathered.Tensor.view(WorldSize, count);
            target.copy_(source);
        }
    }

    public override void ReduceScatterSum(Tensor input, Tensor shard)
    {
        CheckSameElements(input, shard.numel() * WorldSize, "reduce-scatter input");
        using var send = TensorBuffer.For(input, read: true, write: false);
        using var receive = TensorBuffer.For(shard, read: false, write: true);
        var type = Datatype(send.Tensor);
        long shardElements = receive.Elements;
        if (shardElements <= MaxElementsPerCall)
        {
            Check(MPI_Ireduce_scatter_block(send.Address, receive.Address, (int)shardElements, type, handles.Sum, handles.CommWorld, out var request), "MPI_Ireduce_scatter_block");
            Wait(request, $"reduce-scatter of {shardElements} elements per rank");
            return;
        }
        var columns = send.Tensor.view(WorldSize, shardElements);
        foreach (var (offset, count) in Chunks(shardElements))
        {
            using var noGrad = no_grad();
            using var slice = columns.narrow(1, offset, count);
            using var contiguous = TensorBuffer.For(slice, read: true, write: false);
            Check(MPI_Ireduce_scatter_block(contiguous.Address, receive.Address + (nint)(offset * receive.ElementSize), count, type, handles.Sum, handles.CommWorld,
                                            out var request), "MPI_Ireduce_scatter_block");
            Wait(request, $"reduce-scatter of {shardElements} elements per rank");
        }
    }

    public override void Barrier()
    {
        Check(MPI_Ibarrier(handles.CommWorld, out var request), "MPI_Ibarrier");
        Wait(request, "barrier");
    }

    public override void Abort(int exitCode)
    {
        MPI_Abort(handles.CommWorld, exitCode);
        Environment.Exit(exitCode);
    }

    /// <summary>Polls the request: spinning first (a collective between ranks that are all there completes in
    /// microseconds to milliseconds; MPI makes progress only inside its calls), then once a millisecond.</summary>
    void Wait(IntPtr request, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Check(MPI_Test(ref request, out var done, IntPtr.Zero), "MPI_Test");
            if (done != 0)
            {
                CommunicationTime += clock.Elapsed;
                return;
            }
            if (clock.Elapsed > Timeout)
                throw new CollectiveTimeoutException($"rank {Rank}: {what} did not complete within {Timeout.TotalSeconds:F0} s: another rank failed, hangs or never reached it");
            if (clock.ElapsedMilliseconds < 50) Thread.Yield();
            else Thread.Sleep(1);
        }
    }

    public override void Dispose()
    {
        if (finalized) return;
        finalized = true;
        Check(MPI_Finalized(out var done), "MPI_Finalized");
        if (done == 0) MPI_Finalize();
    }
}
