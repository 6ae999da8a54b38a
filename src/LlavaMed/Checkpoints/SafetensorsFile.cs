using System.Buffers.Binary;
using System.Text;
using LlavaMed.Workbench;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Checkpoints;

/// <summary>
/// One .safetensors file, validated when opened and read one tensor at a time.
/// </summary>
/// <remarks>
/// Why not TorchSharp.PyBridge (referenced, 1.4.4): its <c>Safetensors.LoadStateDict</c> validates nothing (empty
/// and truncated files surface as JsonException or EndOfStreamException, overlapping and non-contiguous offsets are
/// accepted silently), it loads whole state dicts rather than one tensor on demand, and its writer emits no
/// alignment padding, no <c>__metadata__</c>, dictionary order rather than the reference layout, and a header
/// length counted in characters rather than bytes. So the header parser, the reader and the writer are our own.
/// Reads go straight from the file into the tensor's storage (positional reads, no memory map), so a multi-GB shard
/// never sits in managed memory.
/// </remarks>
public sealed class SafetensorsFile : IDisposable
{
    /// <summary>Largest slice copied in one positional read or write: <see cref="Tensor.bytes"/> is an int-sized span,
    /// so bigger tensors go through narrowed views.</summary>
    private const long MaxChunkBytes = 1L << 30;

    private readonly SafeFileHandle file;
    private readonly SafetensorsHeader header;
    private readonly Dictionary<string, SafetensorsTensorInfo> tensorsByName;

    private SafetensorsFile(string path, SafeFileHandle file, SafetensorsHeader header)
    {
        Path = path;
        this.file = file;
        this.header = header;
        tensorsByName = header.TensorsInFileOrder.ToDictionary(tensor => tensor.Name);
        Names = header.TensorsInFileOrder.Select(tensor => tensor.Name).ToArray();
    }

    public string Path { get; }

    /// <summary>Tensor names in file (offset) order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The header's <c>__metadata__</c> (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata => header.Metadata;

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="CheckpointFormatException"/> when the
    /// file is not a well-formed safetensors file.</summary>
    public static SafetensorsFile Open(string path)
    {
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            return new SafetensorsFile(path, file, SafetensorsHeader.Read(file, path));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => tensorsByName.ContainsKey(name);

    public SafetensorsTensorInfo GetInfo(string name) => tensorsByName.TryGetValue(name, out var info)
        ? info
        : throw new KeyNotFoundException($"tensor '{name}' is not in '{Path}'");

    /// <summary>Reads one tensor, converted to <paramref name="dtype"/> (default: as stored) on
    /// <paramref name="device"/> (default: CPU). Conversions are torch's own, so F16/BF16 → F32 is exact.</summary>
    public Tensor ReadTensor(string name, ScalarType? dtype = null, Device? device = null)
    {
        var info = GetInfo(name);
        var storedType = info.Dtype.ToScalarType()
                         ?? throw new NotSupportedException(
                             $"tensor '{name}' in '{Path}' is {info.Dtype.HeaderName()}, which TorchSharp cannot hold");
        var stored = empty(info.Shape.ToArray(), storedType);
        try
        {
            ReadInto(stored, info);
            var targetType = dtype ?? storedType;
            var targetDevice = device ?? CPU;
            if (targetType == storedType && targetDevice.type == DeviceType.CPU) return stored;
            using (stored) return stored.to(targetType, targetDevice);
        }
        catch
        {
            stored.Dispose();
            throw;
        }
    }

    /// <summary>Reads tensor <paramref name="name"/> into <paramref name="destination"/> (same shape, contiguous, any
    /// dtype and device). A CPU destination of the stored dtype receives the file's bytes straight into its storage;
    /// any other goes through <paramref name="staging"/> one bounded slice at a time, converted and moved by
    /// <c>copy_</c>, so no second copy of a large tensor (or of a shard, on a GPU) is ever made.</summary>
    public void ReadInto(string name, Tensor destination, StagingBuffers staging)
    {
        var info = GetInfo(name);
        var storedType = info.Dtype.ToScalarType()
                         ?? throw new NotSupportedException(
                             $"tensor '{name}' in '{Path}' is {info.Dtype.HeaderName()}, which TorchSharp cannot hold");
        if (!destination.shape.SequenceEqual(info.Shape) || !destination.is_contiguous())
            throw new ArgumentException(
                $"tensor '{name}' in '{Path}' is [{string.Join(",", info.Shape)}]; the destination is "
                + $"[{string.Join(",", destination.shape)}]{(destination.is_contiguous() ? "" : " and not contiguous")}");
        if (destination.dtype == storedType && destination.device_type == DeviceType.CPU)
        {
            ReadInto(destination, info);
            return;
        }
        var elementSize = info.Dtype.ElementSize();
        var buffer = staging.For(storedType);
        var fileOffset = header.DataSectionStart + info.DataStart;
        using var flat = destination.view(-1);
        var count = flat.shape[0];
        for (long first = 0; first < count; first += buffer.shape[0])
        {
            var length = Math.Min(buffer.shape[0], count - first);
            using var slice = buffer.narrow(0, 0, length);
            SafetensorsHeader.ReadExactly(file, Path, slice.bytes, fileOffset + first * elementSize);
            using var target = flat.narrow(0, first, length);
            target.copy_(slice);
        }
    }

    private void ReadInto(Tensor destination, SafetensorsTensorInfo info)
    {
        var fileOffset = header.DataSectionStart + info.DataStart;
        using var flat = destination.view(-1);
        ForEachChunk(flat, info.Dtype.ElementSize(), (chunk, chunkOffset) =>
            SafetensorsHeader.ReadExactly(file, Path, chunk.bytes, fileOffset + chunkOffset));
    }

    /// <summary>Calls <paramref name="action"/> on views of a flat contiguous CPU tensor, each at most
    /// <see cref="MaxChunkBytes"/> long, with the view's byte offset.</summary>
    private static void ForEachChunk(Tensor flat, int elementSize, Action<Tensor, long> action)
    {
        var elementsPerChunk = MaxChunkBytes / elementSize;
        var count = flat.shape[0];
        for (long first = 0; first < count; first += elementsPerChunk)
        {
            using var chunk = flat.narrow(0, first, Math.Min(elementsPerChunk, count - first));
            action(chunk, first * elementSize);
        }
    }

    public void Dispose() => file.Dispose();

    /// <summary>
    /// Writes <paramref name="tensors"/> as the Python <c>safetensors</c> library does (<c>save_file</c>): data laid
    /// out by descending dtype (the reference's alignment order), then by name; header entries in that order after
    /// <c>__metadata__</c>; compact JSON padded with spaces to a multiple of 8 bytes. Metadata is written only when
    /// given (Python's <c>metadata=None</c> writes none); Hugging Face checkpoints carry <c>{"format": "pt"}</c>.
    /// Atomic: written to a temporary file beside <paramref name="path"/>, then renamed over it.
    /// </summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        Save(path, tensors.Select(pair => SafetensorsEntry.Of(pair.Key, pair.Value)).ToArray(), metadata);

    /// <summary><see cref="Save(string, IReadOnlyDictionary{string, Tensor}, IReadOnlyDictionary{string, string}?)"/>
    /// for entries whose bytes are produced while the file is written, one tensor at a time (a checkpoint larger
    /// than memory).</summary>
    public static void Save(string path, IReadOnlyList<SafetensorsEntry> entries,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var layout = entries
            .OrderByDescending(entry => entry.Dtype)
            .ThenBy(entry => entry.Name, JsonText.CodePointOrder)
            .ToArray();
        if (layout.Any(entry => entry.Name == SafetensorsHeader.MetadataKey))
            throw new ArgumentException($"'{SafetensorsHeader.MetadataKey}' is reserved and cannot name a tensor",
                nameof(entries));

        var header = new StringBuilder("{");
        if (metadata is not null)
        {
            header.Append($"\"{SafetensorsHeader.MetadataKey}\":{{");
            // The reference keeps metadata in a hash map (arbitrary order); sorting makes our output reproducible.
            var first = true;
            foreach (var (key, value) in metadata.OrderBy(pair => pair.Key, JsonText.CodePointOrder))
            {
                if (!first) header.Append(',');
                first = false;
                JsonText.AppendSerdeString(header, key);
                header.Append(':');
                JsonText.AppendSerdeString(header, value);
            }
            header.Append('}');
        }
        long offset = 0;
        foreach (var entry in layout)
        {
            if (header.Length > 1) header.Append(',');
            var byteLength = entry.ByteLength;
            JsonText.AppendSerdeString(header, entry.Name);
            header.Append($":{{\"dtype\":\"{entry.Dtype.HeaderName()}\",\"shape\":[{string.Join(",", entry.Shape)}],"
                          + $"\"data_offsets\":[{offset},{offset + byteLength}]}}");
            offset += byteLength;
        }
        header.Append('}');
        var headerBytes = Encoding.UTF8.GetBytes(header.ToString());
        var paddedLength = (headerBytes.Length + 7) / 8 * 8;

        AtomicFile.Write(path, stream =>
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)paddedLength);
            stream.Write(lengthBytes);
            stream.Write(headerBytes);
            for (var i = headerBytes.Length; i < paddedLength; i++) stream.WriteByte((byte)' ');
            foreach (var entry in layout)
            {
                var start = stream.Position;
                entry.WriteData(stream);
                if (stream.Position - start != entry.ByteLength)
                    throw new InvalidOperationException(
                        $"tensor '{entry.Name}' wrote {stream.Position - start} bytes, its header says {entry.ByteLength}");
            }
        });
    }

    internal static void WriteTensorBytes(Stream stream, Tensor tensor, int elementSize)
    {
        if (tensor.NumberOfElements == 0) return;
        using var onCpu = tensor.device_type == DeviceType.CPU ? tensor.alias() : tensor.cpu();
        using var contiguous = onCpu.contiguous();
        using var flat = contiguous.view(-1);
        ForEachChunk(flat, elementSize, (chunk, _) => stream.Write(chunk.bytes));
    }
}
