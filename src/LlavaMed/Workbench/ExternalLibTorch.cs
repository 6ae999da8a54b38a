using System.Runtime.InteropServices;

namespace LlavaMed.Workbench;

/// <summary>
/// The <c>external</c> backend (<c>-p:LlavaMedBackend=external</c>): the build carries only TorchSharp's bindings
/// (<c>libLibTorchSharp.so</c>, GLIBCXX fix-up applied as for the other backends) and libtorch 2.10 comes from an
/// existing install, for example a PyTorch 2.10 pip install's <c>torch/lib</c> (CPU or CUDA), named by
/// <see cref="EnvironmentVariable"/>. Its libraries are loaded here by full path before TorchSharp initialises, so
/// the dynamic linker resolves <c>libLibTorchSharp.so</c>'s <c>libtorch.so</c>, <c>libc10.so</c> and
/// <c>libtorch_cpu.so</c> to them (TorchSharp's own loader then finds them already loaded).
/// </summary>
public static class ExternalLibTorch
{
    public const string EnvironmentVariable = "LLAVAMED_LIBTORCH";

    /// <summary>In load order: each needs the ones before it; the CUDA pair only exists in CUDA builds.</summary>
    static readonly string[] Libraries = ["libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so"];

    /// <summary>True in builds made with <c>-p:LlavaMedBackend=external</c>.</summary>
    public static bool IsExternalBuild =>
#if LLAVAMED_EXTERNAL_LIBTORCH
        true;
#else
        false;
#endif

    /// <summary>In an external build, loads libtorch from <see cref="EnvironmentVariable"/> and returns the folder;
    /// returns null in other builds. Throws <see cref="InvalidOperationException"/> with one line when the variable
    /// is missing or the folder lacks libtorch.</summary>
    public static string? LoadIfExternal()
    {
        if (!IsExternalBuild) return null;
        var folder = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(folder))
            throw new InvalidOperationException($"this build uses an external libtorch (-p:LlavaMedBackend=external): set "
                                                + $"{EnvironmentVariable} to a libtorch 2.10 lib folder, e.g. a PyTorch pip install's torch/lib");
        Load(folder);
        return folder;
    }

    /// <summary>Loads the libtorch libraries of <paramref name="folder"/> (those present, in dependency order).</summary>
    public static void Load(string folder)
    {
        if (!File.Exists(Path.Combine(folder, "libtorch_cpu.so")))
            throw new InvalidOperationException($"{EnvironmentVariable}={folder}: no libtorch_cpu.so there (expected a libtorch 2.10 lib folder)");
        foreach (var library in Libraries.Select(name => Path.Combine(folder, name)).Where(File.Exists))
            NativeLibrary.Load(library);
    }
}
