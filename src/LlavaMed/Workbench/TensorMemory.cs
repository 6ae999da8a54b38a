using static TorchSharp.torch;

namespace LlavaMed.Workbench;

/// <summary>Where a tensor's values are, for native libraries (the collectives) and for host code that writes a CPU
/// tensor in place (<c>ClipImageProcessor.ToBatchTensor</c>).</summary>
static class TensorMemory
{
    /// <summary>The address of the tensor's first element: its storage's data pointer plus the storage offset
    /// (float32, float64, int64 and uint8 tensors).</summary>
    public static IntPtr Address(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        IntPtr storage = tensor.dtype switch
        {
            ScalarType.Float32 => Pointer(tensor.storage<float>()),
            ScalarType.Float64 => Pointer(tensor.storage<double>()),
            ScalarType.Int64 => Pointer(tensor.storage<long>()),
            ScalarType.Byte => Pointer(tensor.storage<byte>()),
            _ => throw new NotSupportedException($"no data pointer for {tensor.dtype}"),
        };
        return storage + (nint)(tensor.storage_offset() * tensor.ElementSize);
    }

    static IntPtr Pointer<T>(Storage<T> storage) where T : unmanaged
    {
        using (storage) return storage.data_ptr();
    }
}
