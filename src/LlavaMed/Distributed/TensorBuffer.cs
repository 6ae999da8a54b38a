using LlavaMed.Workbench;
using static TorchSharp.torch;

namespace LlavaMed.Distributed;

/// <summary>A tensor's memory as a native collective library reads and writes it: contiguous, in a dtype the library
/// reduces (float32, float64, int64, uint8), on the device it accepts. When the tensor already is that, the buffer
/// is the tensor itself; otherwise a staging copy (bfloat16 and float16 go through float32: no MPI datatype for
/// them, and reductions are done in float32) that <see cref="Dispose"/> copies back when the collective writes it.
/// The buffer keeps its tensor alive while native code uses <see cref="Address"/>.</summary>
sealed class TensorBuffer : IDisposable
{
    readonly Tensor target;
    readonly bool copyBack;

    public Tensor Tensor { get; }
    public IntPtr Address { get; }
    public long Elements => Tensor.numel();
    public int ElementSize => (int)Tensor.ElementSize;

    TensorBuffer(Tensor target, Tensor buffer, bool copyBack)
    {
        this.target = target;
        this.copyBack = copyBack;
        Tensor = buffer;
        Address = TensorMemory.Address(buffer);
    }

    /// <summary><paramref name="read"/>: the collective reads the values; <paramref name="write"/>: it writes them.</summary>
    public static TensorBuffer For(Tensor tensor, bool read, bool write, bool deviceMemory = false)
    {
        var dtype = StagingType(tensor.dtype);
        var device = deviceMemory ? tensor.device : CPU;
        bool direct = dtype == tensor.dtype && tensor.device_type == device.type && tensor.is_contiguous();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        if (direct) return new TensorBuffer(tensor, tensor.alias().DetachFromDisposeScope(), copyBack: false);
        var staging = read ? tensor.to(dtype, device).contiguous().clone() : empty(tensor.shape, dtype, device);
        return new TensorBuffer(tensor, staging.DetachFromDisposeScope(), write);
    }

    /// <summary>A temporary contiguous buffer of <paramref name="elements"/> of the same type (chunked gathers).</summary>
    public TensorBuffer Temporary(long elements) =>
        new(Tensor, empty(elements, Tensor.dtype, Tensor.device).DetachFromDisposeScope(), copyBack: false);

    static ScalarType StagingType(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 or ScalarType.Float64 or ScalarType.Int64 or ScalarType.Byte => dtype,
        ScalarType.BFloat16 or ScalarType.Float16 => ScalarType.Float32,
        ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 => ScalarType.Int64,
        _ => throw new NotSupportedException($"collectives do not support {dtype} tensors"),
    };

    public void Dispose()
    {
        if (copyBack)
        {
            using var noGrad = no_grad();
            target.copy_(Tensor);
        }
        Tensor.Dispose();
    }
}
