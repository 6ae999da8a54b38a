using System.Runtime.InteropServices;

namespace LlavaMed.Workbench;

/// <summary>Process settings libtorch reads from the environment once, at its first allocation; set natively
/// (.NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach C's <c>getenv</c> on Linux).</summary>
public static class LibTorchSettings
{
    /// <summary>
    /// <c>THP_MEM_ALLOC_ENABLE=1</c>: libtorch asks for transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c>) on its
    /// CPU allocations of 2 MB and more. Loading the 7B model touches 15 GB of fresh memory; with 4 KB pages that is
    /// 3.7 million page faults, most of a cold load here (measured: 71 s without, 26 s with, on the same disk). A
    /// value already in the environment wins, so <c>THP_MEM_ALLOC_ENABLE=0</c> turns it off.
    /// </summary>
    public static void EnableHugePagesForLargeAllocations()
    {
        if (OperatingSystem.IsLinux()) _ = SetEnvironment("THP_MEM_ALLOC_ENABLE", "1", overwrite: 0);
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnvironment([MarshalAs(UnmanagedType.LPUTF8Str)] string name,
                                             [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
