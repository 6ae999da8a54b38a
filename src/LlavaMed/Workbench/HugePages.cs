using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Workbench;

/// <summary>
/// Transparent huge pages for the model's weights, not for the rest: loading the 7B model touches 15 GB of fresh
/// memory, 3.7 million faults in 4 KB pages, most of a cold load here (71 s against 26 s with 2 MB pages). Asking for
/// huge pages on every large allocation (libtorch's <c>THP_MEM_ALLOC_ENABLE</c>, which this project used before)
/// made training slower instead: a step allocates and frees its activations thousands of times, and each fresh 2 MB
/// page is cleared (and possibly compacted) again. So only parameter storage, allocated once and kept, is advised,
/// before anything writes it. (Each tensor's unaligned ends stay in 4 KB pages: under 4 MB per tensor, about 0.5 GB of
/// the 7B model's 15 GB, where libtorch's setting aligned its allocations to 2 MB.)
/// </summary>
public static class HugePages
{
    public const long PageBytes = 2L << 20;
    const int AdviseHugePage = 14; // MADV_HUGEPAGE

    /// <summary>Asks the kernel for huge pages on the whole 2 MB pages inside a CPU tensor's memory (Linux; nothing
    /// elsewhere, on a GPU, or for tensors without a whole page); returns the bytes advised (0 when none or when the
    /// kernel refuses: the advice is only about speed).</summary>
    public static long Advise(Tensor tensor)
    {
        if (!OperatingSystem.IsLinux() || tensor.device_type != DeviceType.CPU || !tensor.is_contiguous()) return 0;
        var (start, length) = WholePages(TensorMemory.Address(tensor), tensor.numel() * tensor.ElementSize);
        return length > 0 && AdviseMemory(start, (nuint)length, AdviseHugePage) == 0 ? length : 0;
    }

    /// <summary>The whole 2 MB pages within [address, address + bytes): their start and length (length 0 if none).</summary>
    public static (IntPtr Start, long Length) WholePages(IntPtr address, long bytes)
    {
        const ulong mask = ~((ulong)PageBytes - 1);
        ulong from = (ulong)(nuint)address, to = from + (ulong)bytes;
        ulong first = (from + (ulong)PageBytes - 1) & mask, end = to & mask;
        return end > first ? ((IntPtr)(nint)first, (long)(end - first)) : ((IntPtr)(nint)first, 0);
    }

    [DllImport("libc", EntryPoint = "madvise")]
    private static extern int AdviseMemory(IntPtr address, nuint length, int advice);
}
