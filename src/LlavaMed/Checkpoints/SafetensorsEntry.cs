using static TorchSharp.torch;

namespace LlavaMed.Checkpoints;

/// <summary>One tensor to write: its header fields and a callback that writes exactly <see cref="ByteLength"/>
/// bytes of little-endian data (from a tensor in memory, or produced on the spot).</summary>
public sealed record SafetensorsEntry(string Name, SafetensorsDtype Dtype, IReadOnlyList<long> Shape, Action<Stream> WriteData)
{
    public long ByteLength => Shape.Aggregate(1L, (product, dimension) => product * dimension) * Dtype.ElementSize();

    /// <summary>An entry for a tensor in memory (any device; copied to the CPU while written).</summary>
    public static SafetensorsEntry Of(string name, Tensor tensor)
    {
        var dtype = SafetensorsDtypes.FromScalarType(tensor.dtype);
        return new(name, dtype, tensor.shape, stream => SafetensorsFile.WriteTensorBytes(stream, tensor, dtype.ElementSize()));
    }
}
