using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>What a model is loaded for: answering (ask, chat, predict) may trade precision for memory and speed;
/// training and <c>inspect forward</c> keep float32 unless it cannot fit: full precision whatever the CPU's bf16
/// support (float32 sums still differ in the last bits between CPU kinds, whose BLAS kernels differ).</summary>
public enum Workload { Answering, Training }

/// <summary>A <c>--dtype</c> request: <see cref="Auto"/> or one dtype.</summary>
public enum DtypeRequest { Auto, Float32, BFloat16, Float16 }

/// <summary>What the machine offers, as read by <see cref="MachineProbe"/> (or given by a test).</summary>
/// <param name="AvailableMemoryBytes">host memory a new allocation can take (MemAvailable, capped by the cgroup)</param>
/// <param name="GpuFreeBytes">free memory of the target GPU; null when unknown (no GPU, or not measurable)</param>
/// <param name="NativeBf16Flag">the CPU flag that gives native bf16 arithmetic (avx512_bf16, amx_bf16), or null</param>
/// <param name="CudaAvailable">whether this build's libtorch sees a CUDA device</param>
public sealed record MachineResources(long AvailableMemoryBytes, long? GpuFreeBytes, string? NativeBf16Flag, bool CudaAvailable);

/// <summary>The memory a load (and for training, a step) needs, by part.</summary>
public sealed record MemoryEstimate(long WeightBytes, long TrainingStateBytes, long RuntimeBytes)
{
    public long TotalBytes => WeightBytes + TrainingStateBytes + RuntimeBytes;
}

/// <summary>The dtype and device chosen, why, and what they need.</summary>
public sealed record PlacementDecision(ScalarType Dtype, Device Device, string Reason, MemoryEstimate Estimate)
{
    public string DtypeName => PlacementPlanner.Name(Dtype);
}

/// <summary>What a run needs in each dtype, and which changes of its options would make it fit: the load estimate
/// here (<see cref="LoadNeed"/>) or a training run's <see cref="LlavaMed.Training.MemoryPlan"/>.</summary>
public interface IMemoryNeed
{
    MemoryEstimate Estimate(ScalarType dtype);

    /// <summary>Changes of the options, spelled as on the command line, that bring the run in <paramref name="dtype"/>
    /// within <paramref name="availableBytes"/>, with what each then needs.</summary>
    IReadOnlyList<(string Options, long TotalBytes)> Fitting(ScalarType dtype, long availableBytes);

    /// <summary>What the refusal says when nothing fits.</summary>
    string NothingFits { get; }
}

/// <summary>Loading <paramref name="Parameters"/> parameters to answer or inspect: the weights and
/// <see cref="PlacementPlanner.RuntimeBytes"/>.</summary>
public sealed record LoadNeed(long Parameters) : IMemoryNeed
{
    public MemoryEstimate Estimate(ScalarType dtype) => new(Parameters * PlacementPlanner.ElementSize(dtype), 0, PlacementPlanner.RuntimeBytes);

    public IReadOnlyList<(string Options, long TotalBytes)> Fitting(ScalarType dtype, long availableBytes)
    {
        var smaller = Estimate(ScalarType.BFloat16).TotalBytes;
        return PlacementPlanner.ElementSize(dtype) > 2 && smaller <= availableBytes ? [("--dtype bfloat16", smaller)] : [];
    }

    public string NothingFits => "no dtype fits this machine";
}

/// <summary>Not enough memory for the requested load; the message names the numbers and what would fit.</summary>
public sealed class MemoryPreflightException(string message) : Exception(message);

/// <summary>
/// Chooses dtype and device before anything is allocated and refuses loads that cannot fit (instead of leaving the
/// user to the kernel's OOM killer). Pure: the machine comes in as <see cref="MachineResources"/>.
/// </summary>
public static class PlacementPlanner
{
    /// <summary>What .NET and libtorch themselves hold in any run (the training plan counts it too).</summary>
    public const long RuntimeOverheadBytes = 512L << 20;

    /// <summary>Beyond the weights of a load: .NET and libtorch (<see cref="RuntimeOverheadBytes"/>)
    /// and 512 MiB for the activations of a 2,048-position prompt and the key/value cache of a 7B model.</summary>
    public const long RuntimeBytes = RuntimeOverheadBytes + (512L << 20);

    /// <summary>Resolves <paramref name="request"/> on <paramref name="device"/> for a run that needs
    /// <paramref name="need"/>, its model stored as <paramref name="checkpointDtype"/>; throws
    /// <see cref="ArgumentException"/> for unsupported combinations and <see cref="MemoryPreflightException"/>
    /// when nothing fits.</summary>
    public static PlacementDecision Decide(DtypeRequest request, Device device, Workload workload, IMemoryNeed need,
                                           ScalarType? checkpointDtype, MachineResources machine)
    {
        var onGpu = device.type == DeviceType.CUDA;
        if (onGpu && !machine.CudaAvailable)
            throw new ArgumentException($"--device {DeviceName(device)}: this build's libtorch has no CUDA device "
                                        + "(torch.cuda.is_available() is false); build with -p:LlavaMedBackend=cuda or external (see README)");
        if (device.type is not (DeviceType.CPU or DeviceType.CUDA or DeviceType.META))
            throw new ArgumentException($"--device {DeviceName(device)}: expected cpu, cuda or cuda:N");
        if (request == DtypeRequest.Float16 && !onGpu && workload == Workload.Training)
            throw new ArgumentException("--dtype float16 on the CPU cannot train (libtorch's CPU half kernels are "
                                        + "incomplete and it has no loss scaling here); use bfloat16 or float32");
        long available = onGpu ? machine.GpuFreeBytes ?? long.MaxValue : machine.AvailableMemoryBytes;
        bool Fits(ScalarType dtype) => need.Estimate(dtype).TotalBytes <= available;
        string Need(ScalarType dtype) => $"{Gb(need.Estimate(dtype).TotalBytes)} as {Name(dtype)}";
        string Available() => onGpu ? $"{Gb(available)} free on {DeviceName(device)}" : $"{Gb(available)} available";

        ScalarType chosen;
        string reason;
        if (request != DtypeRequest.Auto)
        {
            chosen = FromRequest(request);
            reason = "as asked";
        }
        else if (workload == Workload.Training)
        {
            (chosen, reason) = Fits(ScalarType.Float32)
                ? (ScalarType.Float32, "training and inspection default to float32 (full precision on any CPU)")
                : (ScalarType.BFloat16, $"float32 would not fit (needs {Need(ScalarType.Float32)}, {Available()})");
        }
        else if (onGpu)
        {
            chosen = checkpointDtype is ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16
                ? checkpointDtype.Value : ScalarType.BFloat16;
            reason = checkpointDtype is null ? "on a GPU; the checkpoint names no torch_dtype" : "the checkpoint's torch_dtype, on a GPU";
        }
        else if (!Fits(ScalarType.Float32))
            (chosen, reason) = (ScalarType.BFloat16, $"float32 would not fit (needs {Need(ScalarType.Float32)}, {Available()})");
        else if (machine.NativeBf16Flag is { } flag)
            (chosen, reason) = (ScalarType.BFloat16, $"the CPU has native bf16 ({flag})");
        else
            (chosen, reason) = (ScalarType.Float32, $"the CPU has no native bf16 and float32 fits ({Need(ScalarType.Float32)}, {Available()})");

        if (!Fits(chosen))
            throw new MemoryPreflightException(RefusalLine(Need(chosen), Available(), need.Fitting(chosen, available), need.NothingFits));
        return new PlacementDecision(chosen, device, reason, need.Estimate(chosen));
    }

    /// <summary>The one line that refuses a run: what it needs, what is available, and each change that fits with
    /// what it then needs (or <paramref name="nothingFits"/>).</summary>
    public static string RefusalLine(string needs, string available, IReadOnlyList<(string Options, long TotalBytes)> fitting, string nothingFits) =>
        $"needs {needs}, {available}"
        + (fitting.Count == 0 ? $"; {nothingFits}" : string.Concat(fitting.Select(f => $"; {f.Options} needs {Gb(f.TotalBytes)}")));

    public static ScalarType FromRequest(DtypeRequest request) => request switch
    {
        DtypeRequest.Float32 => ScalarType.Float32,
        DtypeRequest.BFloat16 => ScalarType.BFloat16,
        DtypeRequest.Float16 => ScalarType.Float16,
        _ => throw new ArgumentException("auto has no single dtype; call Decide"),
    };

    /// <summary><c>auto|float32|bfloat16|float16</c> (PyTorch's spellings).</summary>
    public static DtypeRequest ParseDtype(string text) => text switch
    {
        "auto" => DtypeRequest.Auto,
        "float32" => DtypeRequest.Float32,
        "bfloat16" => DtypeRequest.BFloat16,
        "float16" => DtypeRequest.Float16,
        _ => throw new ArgumentException($"--dtype {text}: expected auto, float32, bfloat16 or float16"),
    };

    /// <summary><c>cpu|cuda|cuda:N</c>.</summary>
    public static Device ParseDevice(string text)
    {
        if (text == "cpu") return CPU;
        if (text == "cuda") return new Device(DeviceType.CUDA, 0);
        if (text.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            return new Device(DeviceType.CUDA, index);
        throw new ArgumentException($"--device {text}: expected cpu, cuda or cuda:N");
    }

    public static string DeviceName(Device device) =>
        device.type == DeviceType.CUDA ? $"cuda:{Math.Max(0, device.index)}" : device.type.ToString().ToLowerInvariant();

    public static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float32 => "float32",
        _ => dtype.ToString(),
    };

    public static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => 4,
        ScalarType.BFloat16 or ScalarType.Float16 => 2,
        _ => throw new ArgumentException($"models load as float32, bfloat16 or float16, not {dtype}"),
    };

    public static string Gb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:F1} GB");
}
