using static TorchSharp.torch;

namespace LlavaMed.Checkpoints;

/// <summary>The one bounded CPU buffer per stored dtype that tensors pass through when they are converted or moved
/// to another device while being read (<see cref="SafetensorsFile.ReadInto(string, Tensor, StagingBuffers)"/>).
/// Slices are read into it and copied out in turn, so converting a 15 GB checkpoint costs
/// <see cref="BufferBytes"/> of extra memory, not a second copy of the weights.</summary>
public sealed class StagingBuffers(long bufferBytes = StagingBuffers.DefaultBufferBytes) : IDisposable
{
    public const long DefaultBufferBytes = 64L << 20;

    private readonly Dictionary<ScalarType, Tensor> buffers = [];

    public long BufferBytes { get; } = bufferBytes;

    /// <summary>A flat CPU tensor of <paramref name="dtype"/> holding <see cref="BufferBytes"/> (created on first use).</summary>
    public Tensor For(ScalarType dtype)
    {
        if (!buffers.TryGetValue(dtype, out var buffer))
        {
            using var probe = empty(0, dtype);
            buffer = empty(Math.Max(1, BufferBytes / probe.ElementSize), dtype);
            buffers.Add(dtype, buffer);
        }
        return buffer;
    }

    public void Dispose()
    {
        foreach (var buffer in buffers.Values) buffer.Dispose();
        buffers.Clear();
    }
}
