using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LlavaMed.Workbench;

/// <summary>Where a tensor's values are, for native libraries (the collectives, <c>madvise</c>) and for host code
/// that writes a CPU tensor in place (<c>ClipImageProcessor.ToBatchTensor</c>).</summary>
static class TensorMemory
{
    /// <summary>The address of the tensor's first element (its storage's data plus the storage offset), on the CPU
    /// or a GPU, for every dtype. TorchSharp's typed storages refuse the 16-bit dtypes, so this asks the native
    /// library TorchSharp itself reads values through.</summary>
    public static IntPtr Address(Tensor tensor)
    {
        var address = DataPointer(tensor.Handle);
        TorchSharp.torch.CheckForErrors(); // a failure is raised here, not left for TorchSharp's next call to find
        if (address == IntPtr.Zero && tensor.numel() > 0)
            throw new InvalidOperationException($"libtorch gave no data pointer for a {tensor.dtype} tensor of {tensor.numel()} elements");
        GC.KeepAlive(tensor);
        return address;
    }

    [DllImport("LibTorchSharp", EntryPoint = "THSTensor_data")]
    private static extern IntPtr DataPointer(IntPtr tensor);
}
