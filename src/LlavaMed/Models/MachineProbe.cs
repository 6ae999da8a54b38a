using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>Reads <see cref="MachineResources"/> from this machine: <c>/proc/meminfo</c>'s MemAvailable capped by the
/// cgroup v2 limit (<c>/sys/fs/cgroup/memory.max</c> minus <c>memory.current</c>), the CPU flags in
/// <c>/proc/cpuinfo</c>, <c>torch.cuda.is_available()</c> and, for a GPU, <c>nvidia-smi</c>'s free memory (TorchSharp
/// 0.107 has no <c>mem_get_info</c>). The parsers are pure and tested; what cannot be read is left out, not guessed.
/// <c>$LLAVAMED_MEMORY_LIMIT_BYTES</c> caps both host and GPU memory (to rehearse a smaller machine, and for tests).</summary>
public static class MachineProbe
{
    public const string MemoryLimitVariable = "LLAVAMED_MEMORY_LIMIT_BYTES";

    public static MachineResources Read(Device device)
    {
        var probed = ReadUncapped(device);
        if (!long.TryParse(Environment.GetEnvironmentVariable(MemoryLimitVariable), CultureInfo.InvariantCulture, out var limit)) return probed;
        return probed with
        {
            AvailableMemoryBytes = Math.Min(probed.AvailableMemoryBytes, limit),
            GpuFreeBytes = probed.GpuFreeBytes is { } free ? Math.Min(free, limit) : null,
        };
    }

    static MachineResources ReadUncapped(Device device)
    {
        var available = ParseMemAvailable(ReadOrEmpty("/proc/meminfo")) ?? long.MaxValue;
        var cgroupRoom = CgroupRoom(ReadOrEmpty("/sys/fs/cgroup/memory.max"), ReadOrEmpty("/sys/fs/cgroup/memory.current"));
        if (cgroupRoom is { } room) available = Math.Min(available, room);
        var cudaAvailable = cuda.is_available();
        long? gpuFree = device.type == DeviceType.CUDA && cudaAvailable ? NvidiaSmiFreeBytes(Math.Max(0, device.index)) : null;
        return new MachineResources(available, gpuFree, ThisCpusFlags is { } flags ? NativeFlag(flags, ScalarType.BFloat16) : null, cudaAvailable);
    }

    /// <summary>MemAvailable in bytes, or null when the text has none.</summary>
    public static long? ParseMemAvailable(string meminfo)
    {
        foreach (var line in meminfo.Split('\n'))
            if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var kib)) return kib * 1024;
            }
        return null;
    }

    /// <summary>How much more the cgroup lets this process allocate: limit minus current use; null without a limit
    /// (<c>max</c>, or no cgroup v2 files).</summary>
    public static long? CgroupRoom(string memoryMax, string memoryCurrent)
    {
        if (!long.TryParse(memoryMax.Trim(), CultureInfo.InvariantCulture, out var limit)) return null;
        long.TryParse(memoryCurrent.Trim(), CultureInfo.InvariantCulture, out var current);
        return Math.Max(0, limit - current);
    }

    /// <summary>The first native-bf16 flag (<c>amx_bf16</c>, <c>avx512_bf16</c>; ARM's <c>bf16</c>) in
    /// <c>/proc/cpuinfo</c>'s flags.</summary>
    public static string? NativeBf16Flag(string cpuinfo) => CpuFlags(cpuinfo) is { } flags ? NativeFlag(flags, ScalarType.BFloat16) : null;

    /// <summary>The first flag in <paramref name="flags"/> that gives the CPU instructions for <paramref name="dtype"/>'s
    /// products: bfloat16 <c>amx_bf16</c>, <c>avx512_bf16</c> (x86), <c>bf16</c> (ARM); float16 <c>amx_fp16</c>,
    /// <c>avx512_fp16</c>, <c>fphp</c>; null for other dtypes and CPUs without them.</summary>
    public static string? NativeFlag(IReadOnlySet<string> flags, ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => new[] { "amx_bf16", "avx512_bf16", "bf16" }.FirstOrDefault(flags.Contains),
        ScalarType.Float16 => new[] { "amx_fp16", "avx512_fp16", "fphp" }.FirstOrDefault(flags.Contains),
        _ => null,
    };

    /// <summary>The CPU's feature flags: the first <c>flags</c> (x86) or <c>Features</c> (ARM) line of
    /// <paramref name="cpuinfo"/>; null when it has neither.</summary>
    public static IReadOnlySet<string>? CpuFlags(string cpuinfo)
    {
        foreach (var line in cpuinfo.Split('\n'))
            if (line.StartsWith("flags", StringComparison.Ordinal) || line.StartsWith("Features", StringComparison.Ordinal))
                return line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        return null;
    }

    /// <summary>This machine's <see cref="CpuFlags"/>, read once (null off Linux).</summary>
    public static IReadOnlySet<string>? ThisCpusFlags => LazyCpuFlags.Value;

    static readonly Lazy<IReadOnlySet<string>?> LazyCpuFlags = new(() => CpuFlags(ReadOrEmpty("/proc/cpuinfo")));

    static string ReadOrEmpty(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }

    static long? NvidiaSmiFreeBytes(int index)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("nvidia-smi",
                ["--query-gpu=memory.free", "--format=csv,noheader,nounits", "-i", index.ToString(CultureInfo.InvariantCulture)])
            { RedirectStandardOutput = true, RedirectStandardError = true });
            if (process is null) return null;
            var text = process.StandardOutput.ReadToEnd();
            process.WaitForExit(10_000);
            return long.TryParse(text.Trim(), CultureInfo.InvariantCulture, out var mib) ? mib << 20 : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }
}
