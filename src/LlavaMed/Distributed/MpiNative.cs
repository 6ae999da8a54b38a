using System.Runtime.InteropServices;

namespace LlavaMed.Distributed;

/// <summary>Open MPI's C API (libmpi.so.40, Open MPI 4.x) through P/Invoke. Handles such as <c>MPI_COMM_WORLD</c>
/// are addresses of exported objects in Open MPI (<c>&amp;ompi_mpi_comm_world</c>), read with
/// <see cref="NativeLibrary.GetExport"/>; <c>MPI_IN_PLACE</c> is <c>(void*)1</c> and <c>MPI_STATUS_IGNORE</c> NULL.
/// Counts are C ints: callers chunk larger buffers.</summary>
static class MpiNative
{
    public const string Library = "libmpi.so.40";
    public const int ThreadSerialized = 2;
    public static readonly IntPtr InPlace = 1;

    [DllImport(Library)] public static extern int MPI_Initialized(out int flag);
    [DllImport(Library)] public static extern int MPI_Finalized(out int flag);
    [DllImport(Library)] public static extern int MPI_Init_thread(IntPtr argc, IntPtr argv, int required, out int provided);
    [DllImport(Library)] public static extern int MPI_Finalize();
    [DllImport(Library)] public static extern int MPI_Comm_rank(IntPtr comm, out int rank);
    [DllImport(Library)] public static extern int MPI_Comm_size(IntPtr comm, out int size);
    [DllImport(Library)] public static extern int MPI_Abort(IntPtr comm, int errorCode);
    [DllImport(Library)] public static extern int MPI_Test(ref IntPtr request, out int flag, IntPtr status);
    [DllImport(Library)] public static extern int MPI_Ibarrier(IntPtr comm, out IntPtr request);
    [DllImport(Library)] public static extern int MPI_Iallreduce(IntPtr send, IntPtr receive, int count, IntPtr datatype, IntPtr op, IntPtr comm, out IntPtr request);
    [DllImport(Library)] public static extern int MPI_Ibcast(IntPtr buffer, int count, IntPtr datatype, int root, IntPtr comm, out IntPtr request);
    [DllImport(Library)] public static extern int MPI_Iallgather(IntPtr send, int sendCount, IntPtr sendType, IntPtr receive, int receiveCount, IntPtr receiveType,
                                                                IntPtr comm, out IntPtr request);
    [DllImport(Library)] public static extern int MPI_Ireduce_scatter_block(IntPtr send, IntPtr receive, int receiveCount, IntPtr datatype, IntPtr op, IntPtr comm,
                                                                           out IntPtr request);

    /// <summary>The predefined handles, read once from the loaded library.</summary>
    public sealed record Handles(IntPtr CommWorld, IntPtr Float, IntPtr Double, IntPtr Int64, IntPtr Byte, IntPtr Sum)
    {
        public static Handles Read()
        {
            IntPtr library;
            try
            {
                library = NativeLibrary.Load(Library);
            }
            catch (DllNotFoundException e)
            {
                throw new DistributedException($"Open MPI's {Library} could not be loaded ({e.Message.Split('\n')[0]}); install Open MPI 4 (Debian: "
                    + $"environment/install-openmpi.sh)", e);
            }
            IntPtr Export(string name) => NativeLibrary.TryGetExport(library, name, out var address) ? address
                : throw new DistributedException($"{Library} does not export {name}: not Open MPI 4");
            return new Handles(Export("ompi_mpi_comm_world"), Export("ompi_mpi_float"), Export("ompi_mpi_double"),
                               Export("ompi_mpi_int64_t"), Export("ompi_mpi_byte"), Export("ompi_mpi_op_sum"));
        }
    }

    public static void Check(int code, string call)
    {
        if (code != 0) throw new DistributedException($"{call} failed with MPI error {code}");
    }
}
