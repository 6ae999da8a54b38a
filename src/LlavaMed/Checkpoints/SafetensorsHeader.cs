using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace LlavaMed.Checkpoints;

/// <summary>Parses and validates a safetensors header with the rules of the reference crate
/// (huggingface/safetensors, <c>SafeTensors::read_metadata</c> and <c>Metadata::validate</c>): header length at most
/// 100 MB and inside the file, UTF-8 JSON object, known dtypes, byte length = product(shape) * element size, and the
/// tensors, ordered by offset, covering the data section exactly: no overlaps, no holes, nothing after the last.</summary>
internal sealed class SafetensorsHeader
{
    public const string MetadataKey = "__metadata__";
    private const long MaxHeaderBytes = 100_000_000;

    private SafetensorsHeader(long dataSectionStart, IReadOnlyList<SafetensorsTensorInfo> tensorsInFileOrder,
        IReadOnlyDictionary<string, string> metadata)
    {
        DataSectionStart = dataSectionStart;
        TensorsInFileOrder = tensorsInFileOrder;
        Metadata = metadata;
    }

    /// <summary>Absolute file offset of the data section (8 + header length).</summary>
    public long DataSectionStart { get; }

    public IReadOnlyList<SafetensorsTensorInfo> TensorsInFileOrder { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafetensorsHeader Read(SafeFileHandle file, string path)
    {
        var fileLength = RandomAccess.GetLength(file);
        CheckpointFormatException Invalid(string problem, Exception? inner = null) => new(path, problem, inner);

        if (fileLength < 8)
            throw Invalid($"file is {fileLength} bytes long, too short for the 8-byte header length (empty or truncated)");
        Span<byte> lengthBytes = stackalloc byte[8];
        ReadExactly(file, path, lengthBytes, 0);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes)
            throw Invalid($"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit of the format"
                          + (headerLength > (ulong)fileLength ? $" and the file size {fileLength}" : ""));
        if (8 + (long)headerLength > fileLength)
            throw Invalid($"header length {headerLength} is larger than the rest of the file "
                          + $"({fileLength - 8} bytes after the length; truncated?)");

        var headerBytes = new byte[headerLength];
        ReadExactly(file, path, headerBytes, 8);
        string headerText;
        try
        {
            headerText = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(headerBytes);
        }
        catch (DecoderFallbackException e)
        {
            throw Invalid("header is not valid UTF-8", e);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(headerText);
        }
        catch (JsonException e)
        {
            throw Invalid($"header is not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw Invalid($"header is JSON {document.RootElement.ValueKind}, not an object");

            var metadata = new Dictionary<string, string>();
            var tensors = new List<SafetensorsTensorInfo>();
            var names = new HashSet<string>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name))
                    throw Invalid($"header lists '{property.Name}' twice");
                if (property.Name == MetadataKey)
                    ReadMetadata(property.Value, metadata, Invalid);
                else
                    tensors.Add(ReadTensorEntry(property.Name, property.Value, Invalid));
            }

            tensors.Sort((left, right) => left.DataStart != right.DataStart
                ? left.DataStart.CompareTo(right.DataStart)
                : left.DataEnd.CompareTo(right.DataEnd));
            var dataSectionLength = fileLength - 8 - (long)headerLength;
            ValidateLayout(tensors, dataSectionLength, Invalid);
            return new SafetensorsHeader(8 + (long)headerLength, tensors, metadata);
        }
    }

    /// <summary>Reads exactly <paramref name="destination"/>.Length bytes at <paramref name="fileOffset"/>; a file
    /// that ends early (truncated after it was opened) is a format error, not a silent short read.</summary>
    public static void ReadExactly(SafeFileHandle file, string path, Span<byte> destination, long fileOffset)
    {
        while (!destination.IsEmpty)
        {
            var read = RandomAccess.Read(file, destination, fileOffset);
            if (read == 0)
                throw new CheckpointFormatException(path, $"file ended at byte {fileOffset} while reading");
            destination = destination[read..];
            fileOffset += read;
        }
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata,
        Func<string, Exception?, CheckpointFormatException> invalid)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw invalid($"{MetadataKey} is JSON {value.ValueKind}, not an object of strings", null);
        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw invalid($"{MetadataKey} value of '{entry.Name}' is JSON {entry.Value.ValueKind}, not a string",
                    null);
            metadata[entry.Name] = entry.Value.GetString()!;
        }
    }

    private static SafetensorsTensorInfo ReadTensorEntry(string name, JsonElement entry,
        Func<string, Exception?, CheckpointFormatException> invalid)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            throw invalid($"tensor '{name}' entry is JSON {entry.ValueKind}, not an object", null);

        JsonElement Field(string field) => entry.TryGetProperty(field, out var value)
            ? value
            : throw invalid($"tensor '{name}' has no '{field}'", null);

        var dtypeElement = Field("dtype");
        if (dtypeElement.ValueKind != JsonValueKind.String
            || !SafetensorsDtypes.TryParseHeaderName(dtypeElement.GetString()!, out var dtype))
            throw invalid($"tensor '{name}' has unknown dtype {dtypeElement.GetRawText()}", null);

        var shape = ReadNonNegativeIntegers(Field("shape"), name, "shape", invalid);
        var offsets = ReadNonNegativeIntegers(Field("data_offsets"), name, "data_offsets", invalid);
        if (offsets.Length != 2)
            throw invalid($"tensor '{name}' data_offsets has {offsets.Length} numbers, not 2 ([begin, end])", null);
        if (offsets[1] < offsets[0])
            throw invalid($"tensor '{name}' data_offsets [{offsets[0]}, {offsets[1]}] end before they begin", null);

        long expectedBytes;
        try
        {
            expectedBytes = checked(shape.Aggregate(1L, (product, dimension) => product * dimension) * dtype.ElementSize());
        }
        catch (OverflowException e)
        {
            throw invalid($"tensor '{name}' shape [{string.Join(", ", shape)}] overflows the byte count", e);
        }
        if (offsets[1] - offsets[0] != expectedBytes)
            throw invalid($"tensor '{name}' has shape [{string.Join(", ", shape)}] and dtype {dtype.HeaderName()} "
                          + $"({expectedBytes} bytes) but data_offsets [{offsets[0]}, {offsets[1]}] span "
                          + $"{offsets[1] - offsets[0]} bytes (shape and offsets inconsistent)", null);
        return new SafetensorsTensorInfo(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] ReadNonNegativeIntegers(JsonElement element, string name, string field,
        Func<string, Exception?, CheckpointFormatException> invalid)
    {
        if (element.ValueKind != JsonValueKind.Array)
            throw invalid($"tensor '{name}' {field} is JSON {element.ValueKind}, not an array", null);
        return element.EnumerateArray()
            .Select(item => item.ValueKind == JsonValueKind.Number && item.TryGetInt64(out var number) && number >= 0
                ? number
                : throw invalid($"tensor '{name}' {field} holds {item.GetRawText()}, not a non-negative integer", null))
            .ToArray();
    }

    /// <summary>Like the reference: each tensor must begin where the previous one ended, and the last must end at
    /// the end of the file. A hole is as invalid as an overlap; it usually means a corrupt header.</summary>
    private static void ValidateLayout(List<SafetensorsTensorInfo> tensorsByOffset, long dataSectionLength,
        Func<string, Exception?, CheckpointFormatException> invalid)
    {
        long expectedStart = 0;
        SafetensorsTensorInfo? previous = null;
        foreach (var tensor in tensorsByOffset)
        {
            if (tensor.DataEnd > dataSectionLength)
                throw invalid($"tensor '{tensor.Name}' data_offsets [{tensor.DataStart}, {tensor.DataEnd}] are out of "
                              + $"range: the data section has {dataSectionLength} bytes (file truncated?)", null);
            if (tensor.DataStart < expectedStart)
                throw invalid($"tensor '{tensor.Name}' data_offsets [{tensor.DataStart}, {tensor.DataEnd}] overlap "
                              + $"tensor '{previous!.Name}' [{previous.DataStart}, {previous.DataEnd}]", null);
            if (tensor.DataStart > expectedStart)
                throw invalid($"tensor '{tensor.Name}' data_offsets [{tensor.DataStart}, {tensor.DataEnd}] leave a hole "
                              + $"of {tensor.DataStart - expectedStart} bytes after "
                              + (previous is null ? "the start of the data section" : $"tensor '{previous.Name}'")
                              + " (data must be contiguous)", null);
            expectedStart = tensor.DataEnd;
            previous = tensor;
        }
        if (expectedStart != dataSectionLength)
            throw invalid($"the tensors cover {expectedStart} bytes but the data section has {dataSectionLength} "
                          + $"({dataSectionLength - expectedStart} trailing bytes that belong to no tensor)", null);
    }
}
