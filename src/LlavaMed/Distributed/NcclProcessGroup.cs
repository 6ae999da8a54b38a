using TorchSharp;
using static LlavaMed.Distributed.NcclNative;
using static TorchSharp.torch;

namespace LlavaMed.Distributed;

/// <summary>Collectives on NCCL for CUDA tensors, one GPU per rank (the launcher gives each rank one visible GPU,
/// e.g. <c>CUDA_VISIBLE_DEVICES</c> = local rank). MPI bootstraps it (rank 0's <c>ncclUniqueId</c> is broadcast over
/// MPI) and carries barriers and aborts. Each collective is enqueued on stream 0 and waited for; a watchdog calls
/// <c>ncclCommAbort</c> when it takes longer than <see cref="ProcessGroup.Timeout"/>, which releases the waiting
/// kernels, and the wait ends in <see cref="CollectiveTimeoutException"/>.</summary>
public sealed class NcclProcessGroup : ProcessGroup
{
    readonly MpiProcessGroup bootstrap;
    IntPtr communicator;

    public override int Rank => bootstrap.Rank;
    public override int WorldSize => bootstrap.WorldSize;
    public override int LocalRank => bootstrap.LocalRank;
    public override string Backend => "nccl";

    NcclProcessGroup(MpiProcessGroup bootstrap, IntPtr communicator)
    {
        this.bootstrap = bootstrap;
        this.communicator = communicator;
    }

    /// <summary>Creates the NCCL communicator of the MPI job; <paramref name="bootstrap"/> belongs to the result.</summary>
    public static NcclProcessGroup Create(MpiProcessGroup bootstrap, TimeSpan timeout)
    {
        EnsureLoaded();
        if (!cuda.is_available()) throw new DistributedException($"rank {bootstrap.Rank}: the NCCL backend needs a CUDA device and a CUDA build of TorchSharp");
        using var id = zeros(128, ScalarType.Byte);
        if (bootstrap.Rank == 0)
        {
            Check(ncclGetUniqueId(out var unique), "ncclGetUniqueId");
            id.copy_(tensor(((ReadOnlySpan<byte>)unique).ToArray()));
        }
        bootstrap.Broadcast(id, root: 0);
        var received = new UniqueId();
        id.data<byte>().ToArray().CopyTo(received);
        Check(ncclCommInitRank(out var communicator, bootstrap.WorldSize, received, bootstrap.Rank), "ncclCommInitRank");
        return new NcclProcessGroup(bootstrap, communicator) { Timeout = timeout };
    }

    static DataType Type(Tensor buffer) => buffer.dtype switch
    {
        ScalarType.Float32 => DataType.Float32,
        ScalarType.Float64 => DataType.Float64,
        ScalarType.Int64 => DataType.Int64,
        ScalarType.Byte => DataType.Uint8,
        _ => throw new NotSupportedException($"no NCCL datatype for {buffer.dtype}"),
    };

    static TensorBuffer Buffer(Tensor tensor, bool read, bool write)
    {
        if (tensor.device_type != DeviceType.CUDA) throw new ArgumentException("the NCCL backend reduces CUDA tensors; use the MPI backend for CPU tensors");
        return TensorBuffer.For(tensor, read, write, deviceMemory: true);
    }

    public override void AllReduceSum(Tensor tensor)
    {
        using var buffer = Buffer(tensor, read: true, write: true);
        Run(() => ncclAllReduce(buffer.Address, buffer.Address, (nuint)buffer.Elements, Type(buffer.Tensor), Sum, communicator, IntPtr.Zero), "ncclAllReduce");
    }

    public override void Broadcast(Tensor tensor, int root = 0)
    {
        using var buffer = Buffer(tensor, read: Rank == root, write: Rank != root);
        Run(() => ncclBroadcast(buffer.Address, buffer.Address, (nuint)buffer.Elements, Type(buffer.Tensor), root, communicator, IntPtr.Zero), "ncclBroadcast");
    }

    public override void AllGather(Tensor shard, Tensor output)
    {
        CheckSameElements(output, shard.numel() * WorldSize, "all-gather output");
        using var send = Buffer(shard, read: true, write: false);
        using var receive = Buffer(output, read: false, write: true);
        Run(() => ncclAllGather(send.Address, receive.Address, (nuint)send.Elements, Type(send.Tensor), communicator, IntPtr.Zero), "ncclAllGather");
    }

    public override void ReduceScatterSum(Tensor input, Tensor shard)
    {
        CheckSameElements(input, shard.numel() * WorldSize, "reduce-scatter input");
        using var send = Buffer(input, read: true, write: false);
        using var receive = Buffer(shard, read: false, write: true);
        Run(() => ncclReduceScatter(send.Address, receive.Address, (nuint)receive.Elements, Type(send.Tensor), Sum, communicator, IntPtr.Zero), "ncclReduceScatter");
    }

    public override void Barrier() => bootstrap.Barrier();

    public override void Abort(int exitCode)
    {
        if (communicator != IntPtr.Zero) ncclCommAbort(communicator);
        communicator = IntPtr.Zero;
        bootstrap.Abort(exitCode);
    }

    /// <summary>Enqueues one collective (inside a group, as NCCL recommends for single calls too) and waits for
    /// stream 0 to finish it under the watchdog.</summary>
    void Run(Func<int> enqueue, string call)
    {
        if (communicator == IntPtr.Zero) throw new DistributedException($"rank {Rank}: the NCCL communicator was aborted");
        Check(ncclGroupStart(), "ncclGroupStart");
        Check(enqueue(), call);
        Check(ncclGroupEnd(), "ncclGroupEnd");
        var comm = communicator;
        int aborted = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var watchdog = new Timer(_ =>
        {
            aborted = 1;
            ncclCommAbort(comm);
        }, null, Timeout, System.Threading.Timeout.InfiniteTimeSpan);
        cuda.synchronize();
        watchdog.Dispose();
        CommunicationTime += clock.Elapsed;
        if (Volatile.Read(ref aborted) == 1)
        {
            communicator = IntPtr.Zero;
            throw new CollectiveTimeoutException($"rank {Rank}: {call} did not complete within {Timeout.TotalSeconds:F0} s: another rank failed, hangs or never reached it "
                + $"(communicator aborted)");
        }
        Check(ncclCommGetAsyncError(comm, out var asyncError), "ncclCommGetAsyncError");
        Check(asyncError, call);
    }

    public override void Dispose()
    {
        if (communicator != IntPtr.Zero) ncclCommDestroy(communicator);
        communicator = IntPtr.Zero;
        bootstrap.Dispose();
    }
}
