namespace LlavaMed.Checkpoints;

/// <summary>One tensor's header entry. <see cref="DataStart"/> and <see cref="DataEnd"/> are byte offsets into the
/// data section, which begins right after the header.</summary>
public sealed record SafetensorsTensorInfo(
    string Name, SafetensorsDtype Dtype, IReadOnlyList<long> Shape, long DataStart, long DataEnd)
{
    public long ByteLength => DataEnd - DataStart;

    /// <summary>Product of the shape: 1 for a scalar (empty shape), 0 when any dimension is 0.</summary>
    public long ElementCount => Shape.Aggregate(1L, (product, dimension) => product * dimension);
}
