using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>Where a module allocates its parameters: dtype and device passed to every layer explicitly, because
/// libtorch's default dtype is one process-wide setting that concurrent code (other models, test threads) would see.</summary>
public sealed record ParameterPlacement(ScalarType Dtype, Device Device)
{
    public static ParameterPlacement CpuFloat32 { get; } = new(ScalarType.Float32, CPU);
}
