using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlavaMed.Data;

/// <summary>Streams the records of JSON data files without loading a file whole (the alignment set is 340 MiB):
/// a top-level array (<c>[i] (line L)</c>), a top-level object whose values are arrays of records, as in
/// <c>llava_med_instruct_fig_captions.json</c> (<c>key[i] (line L)</c>), or JSON Lines (<c>line L</c>). A JSONL
/// line that is not JSON is a bad record the policy can skip; a syntax error inside an array or object cannot be
/// stepped over (where the record ends is unknown) and is a <see cref="DataFormatException"/> naming its line.</summary>
public static class JsonRecordFile
{
    /// <summary>JSON Lines when the first non-blank byte starts an object, a JSON array when it starts an array.</summary>
    public static IEnumerable<SourceRecord<JsonNode>> Read(string path) =>
        FirstSignificantByte(path) == (byte)'{' ? ReadLines(path) : ReadArrays(path);

    public static IEnumerable<SourceRecord<JsonNode>> ReadLines(string path)
    {
        using var reader = new StreamReader(path, Encoding.UTF8);
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node = null;
            string? problem = null;
            try
            {
                node = JsonNode.Parse(line);
            }
            catch (JsonException e)
            {
                problem = $"invalid JSON ({e.Message})";
            }
            yield return new SourceRecord<JsonNode>($"line {lineNumber}", node, problem);
        }
    }

    /// <summary>The elements of a top-level array, or of each array value of a top-level object.</summary>
    public static IEnumerable<SourceRecord<JsonNode>> ReadArrays(string path)
    {
        using var streamer = new ArrayStreamer(path);
        while (streamer.NextBatch() is { Count: > 0 } batch)
            foreach (var record in batch)
                yield return record;
    }

    static int FirstSignificantByte(string path)
    {
        using var stream = File.OpenRead(path);
        int b;
        while ((b = stream.ReadByte()) is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF) { } // BOM too
        return b;
    }

    /// <summary>Feeds a growing buffer to <see cref="Utf8JsonReader"/> and cuts out one complete record at a time
    /// (<see cref="Utf8JsonReader.TrySkip"/> tells whether the record is complete in the buffer). Counts newlines
    /// in the consumed bytes so each record carries its line.</summary>
    sealed class ArrayStreamer(string path) : IDisposable
    {
        enum Stage { Start, InArray, InObject, InObjectArray, Done }

        readonly FileStream stream = File.OpenRead(path);
        byte[] buffer = new byte[1 << 16];
        int filled;
        bool finalBlock;
        JsonReaderState state;
        Stage stage = Stage.Start;
        string? key;
        int index;
        long linesBeforeBuffer;  // newlines in bytes already dropped from the buffer

        public void Dispose() => stream.Dispose();

        public List<SourceRecord<JsonNode>> NextBatch()
        {
            var batch = new List<SourceRecord<JsonNode>>();
            while (batch.Count == 0 && stage != Stage.Done)
            {
                if (!finalBlock) Fill();
                var consumed = ReadRecords(batch);
                if (consumed == 0 && batch.Count == 0 && finalBlock && stage != Stage.Done)
                    throw new DataFormatException(path, $"line {linesBeforeBuffer + 1}", "unexpected end of file");
                Drop(consumed);
            }
            return batch;
        }

        void Fill()
        {
            if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);  // one record larger than the buffer
            var read = stream.Read(buffer, filled, buffer.Length - filled);
            filled += read;
            if (read == 0) finalBlock = true;
        }

        void Drop(int consumed)
        {
            linesBeforeBuffer += buffer.AsSpan(0, consumed).Count((byte)'\n');
            Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
            filled -= consumed;
        }

        /// <summary>Reads every complete record in the buffer; returns the bytes consumed.</summary>
        int ReadRecords(List<SourceRecord<JsonNode>> batch)
        {
            var data = buffer.AsSpan(0, filled);
            var reader = new Utf8JsonReader(data, finalBlock, state);
            long countedUpTo = 0, lines = linesBeforeBuffer;
            try
            {
                while (stage != Stage.Done)
                {
                    var checkpoint = reader;
                    if (!reader.Read()) break;
                    switch (stage)
                    {
                        case Stage.Start:
                            stage = reader.TokenType switch
                            {
                                JsonTokenType.StartArray => Stage.InArray,
                                JsonTokenType.StartObject => Stage.InObject,
                                _ => throw new DataFormatException(path, "top level", "expected a JSON array or an object of arrays"),
                            };
                            break;
                        case Stage.InObject when reader.TokenType == JsonTokenType.EndObject:
                            stage = Stage.Done;
                            break;
                        case Stage.InObject:
                            var name = reader.GetString();
                            if (!reader.Read())
                            {
                                reader = checkpoint;
                                goto needMore;
                            }
                            if (reader.TokenType != JsonTokenType.StartArray)
                                throw new DataFormatException(path, $"'{name}'", "expected an array of records");
                            (key, index, stage) = (name, 0, Stage.InObjectArray);
                            break;
                        case Stage.InArray or Stage.InObjectArray when reader.TokenType == JsonTokenType.EndArray:
                            stage = stage == Stage.InArray ? Stage.Done : Stage.InObject;
                            break;
                        default:
                            var start = (int)reader.TokenStartIndex;
                            if (!reader.TrySkip())
                            {
                                reader = checkpoint;
                                goto needMore;
                            }
                            lines += data[(int)countedUpTo..start].Count((byte)'\n');
                            countedUpTo = start;
                            var node = JsonNode.Parse(data[start..(int)reader.BytesConsumed]);
                            batch.Add(new SourceRecord<JsonNode>($"{key}[{index++}] (line {lines + 1})", node));
                            break;
                    }
                }
                needMore:
                state = reader.CurrentState;
                return (int)reader.BytesConsumed;
            }
            catch (JsonException e)
            {
                // The reader state carries its line count across buffers, so the exception's line is the file's.
                var where = index > 0 ? $" after record {key}[{index - 1}]" : "";
                throw new DataFormatException(path, $"line {(e.LineNumber ?? lines) + 1}", $"invalid JSON{where} ({e.Message})");
            }
        }
    }
}
