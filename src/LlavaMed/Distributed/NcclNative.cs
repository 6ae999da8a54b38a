using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LlavaMed.Distributed;

/// <summary>NCCL's C API (libnccl.so.2; PyTorch's CUDA wheels and the CUDA toolkit bring it) through P/Invoke.
/// Collectives are enqueued on CUDA stream 0: TorchSharp has no stream API and libtorch's default stream is the
/// legacy NULL stream, so they run in order with the kernels that produced and consume the tensors.</summary>
static class NcclNative
{
    public const string Library = "libnccl.so.2";
    public const int Success = 0;
    public const int InProgress = 7;

    /// <summary>ncclUniqueId: 128 opaque bytes that rank 0 creates and every rank needs (sent over MPI).</summary>
    [InlineArray(128)]
    public struct UniqueId
    {
        byte first;
    }

    public enum DataType { Int8 = 0, Uint8 = 1, Int32 = 2, Uint32 = 3, Int64 = 4, Uint64 = 5, Float16 = 6, Float32 = 7, Float64 = 8, BFloat16 = 9 }
    public const int Sum = 0;

    [DllImport(Library)] public static extern int ncclGetVersion(out int version);
    [DllImport(Library)] public static extern int ncclGetUniqueId(out UniqueId id);
    [DllImport(Library)] public static extern int ncclCommInitRank(out IntPtr comm, int ranks, UniqueId id, int rank);
    [DllImport(Library)] public static extern int ncclCommAbort(IntPtr comm);
    [DllImport(Library)] public static extern int ncclCommDestroy(IntPtr comm);
    [DllImport(Library)] public static extern int ncclCommGetAsyncError(IntPtr comm, out int asyncError);
    [DllImport(Library)] public static extern IntPtr ncclGetErrorString(int result);
    [DllImport(Library)] public static extern int ncclGroupStart();
    [DllImport(Library)] public static extern int ncclGroupEnd();
    [DllImport(Library)] public static extern int ncclAllReduce(IntPtr send, IntPtr receive, nuint count, DataType type, int op, IntPtr comm, IntPtr stream);
    [DllImport(Library)] public static extern int ncclBroadcast(IntPtr send, IntPtr receive, nuint count, DataType type, int root, IntPtr comm, IntPtr stream);
    [DllImport(Library)] public static extern int ncclAllGather(IntPtr send, IntPtr receive, nuint sendCount, DataType type, IntPtr comm, IntPtr stream);
    [DllImport(Library)] public static extern int ncclReduceScatter(IntPtr send, IntPtr receive, nuint receiveCount, DataType type, int op, IntPtr comm, IntPtr stream);

    /// <summary>Loads the library or says clearly that it is missing (no GPU machine, no CUDA install).</summary>
    public static void EnsureLoaded()
    {
        if (NativeLibrary.TryLoad(Library, typeof(NcclNative).Assembly, null, out _)) return;
        throw new DistributedException($"NCCL's {Library} could not be loaded: the NCCL backend needs a CUDA machine with NCCL 2 installed (or a PyTorch CUDA wheel's "
            + $"nvidia/nccl/lib on LD_LIBRARY_PATH); use the MPI backend on CPUs");
    }

    public static void Check(int result, string call)
    {
        if (result == Success) return;
        var text = Marshal.PtrToStringAnsi(ncclGetErrorString(result)) ?? "unknown error";
        throw new DistributedException($"{call} failed: NCCL error {result} ({text})");
    }
}
