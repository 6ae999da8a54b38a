using System.Buffers.Binary;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace LlavaMed.Text;

/// <summary><c>ModelProto.SentencePiece.Type</c> of sentencepiece_model.proto.</summary>
public enum SentencePieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary><c>TrainerSpec.ModelType</c> of sentencepiece_model.proto.</summary>
public enum SentencePieceModelType
{
    Unigram = 1,
    Bpe = 2,
    Word = 3,
    Char = 4,
}

/// <summary>One vocabulary entry. For BPE the score is the merge priority: higher merges first.</summary>
public readonly record struct SentencePieceEntry(string Piece, float Score, SentencePieceType Type = SentencePieceType.Normal);

/// <summary>The <c>TrainerSpec</c> fields this workbench reads and writes. They are proto2 optionals: null means
/// "not present in the file" (readers then use the proto default), so a model read from disk can be written back
/// byte for byte.</summary>
public sealed record SentencePieceTrainerSpec
{
    public string? ModelPrefix { get; init; }                 // field 2
    public SentencePieceModelType? ModelType { get; init; }  // 3
    public int? VocabSize { get; init; }                      // 4
    public float? CharacterCoverage { get; init; }            // 10
    public int? SeedSentencePieceSize { get; init; }          // 14
    public int? NumThreads { get; init; }                     // 16
    public int? MaxSentenceLength { get; init; }              // 18
    public int? MaxSentencePieceLength { get; init; }         // 20
    public bool? SplitDigits { get; init; }                   // 25
    public bool? AllowWhitespaceOnlyPieces { get; init; }     // 26
    public bool? HardVocabLimit { get; init; }                // 33
    public bool? ByteFallback { get; init; }                  // 35
    public int? UnkId { get; init; }                          // 40
    public int? BosId { get; init; }                          // 41
    public int? EosId { get; init; }                          // 42
    public int? PadId { get; init; }                          // 43
    public string? UnkPiece { get; init; }                    // 45
    public string? BosPiece { get; init; }                    // 46
    public string? EosPiece { get; init; }                    // 47
}

/// <summary>The <c>NormalizerSpec</c> fields (proto2 optionals, null = absent).</summary>
public sealed record SentencePieceNormalizerSpec
{
    public string? Name { get; init; }                        // field 1
    public byte[]? PrecompiledCharsmap { get; init; }         // 2
    public bool? AddDummyPrefix { get; init; }                // 3
    public bool? RemoveExtraWhitespaces { get; init; }        // 4
    public bool? EscapeWhitespaces { get; init; }             // 5
}

/// <summary>
/// A SentencePiece model (<c>ModelProto</c>): pieces in id order plus the trainer and normalizer specs. Writes the
/// protobuf <c>tokenizer.model</c> that sentencepiece, HF <c>LlamaTokenizer</c> and Microsoft.ML.Tokenizers read, and
/// a Hugging Face tokenizer folder around it.
/// </summary>
public sealed class SentencePieceModel
{
    public IReadOnlyList<SentencePieceEntry> Pieces { get; }
    public SentencePieceTrainerSpec TrainerSpec { get; }
    public SentencePieceNormalizerSpec NormalizerSpec { get; }

    public SentencePieceModel(IReadOnlyList<SentencePieceEntry> pieces, SentencePieceTrainerSpec trainerSpec,
        SentencePieceNormalizerSpec normalizerSpec)
    {
        var duplicate = pieces.GroupBy(p => p.Piece, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"duplicate piece '{duplicate.Key}'", nameof(pieces));
        if (pieces.Any(p => p.Piece.Length == 0)) throw new ArgumentException("pieces must not be empty", nameof(pieces));
        Pieces = pieces;
        TrainerSpec = trainerSpec;
        NormalizerSpec = normalizerSpec;
    }

    /// <summary>The serialized <c>ModelProto</c>. Fields are written in field-number order, as protobuf's own
    /// serializers do, so the output is canonical.</summary>
    public byte[] ToModelProtoBytes()
    {
        var model = new ProtoWriter();
        foreach (var piece in Pieces)
        {
            var entry = new ProtoWriter();
            entry.WriteString(1, piece.Piece);
            entry.WriteFloat(2, piece.Score);
            // NORMAL is the proto default; sentencepiece leaves it unset for learned pieces.
            if (piece.Type != SentencePieceType.Normal) entry.WriteVarint(3, (ulong)piece.Type);
            model.WriteMessage(1, entry);
        }
        model.WriteMessage(2, WriteTrainerSpec(TrainerSpec));
        model.WriteMessage(3, WriteNormalizerSpec(NormalizerSpec));
        return model.ToArray();
    }

    public void WriteModelFile(string path) => File.WriteAllBytes(path, ToModelProtoBytes());

    /// <summary>Writes <c>tokenizer.model</c>, <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c> in the
    /// shape of Mistral's HF tokenizer folder (slow <c>LlamaTokenizer</c>, BOS added, no EOS, legacy, no pad token),
    /// which <see cref="LlavaTokenizer.FromFolder"/> loads.</summary>
    public void WriteTokenizerFolder(string directory, int modelMaxLength = 2048)
    {
        Directory.CreateDirectory(directory);
        WriteModelFile(Path.Combine(directory, "tokenizer.model"));
        var bos = PieceOrDefault(TrainerSpec.BosId ?? 1, "<s>");
        var eos = PieceOrDefault(TrainerSpec.EosId ?? 2, "</s>");
        var unk = PieceOrDefault(TrainerSpec.UnkId ?? 0, "<unk>");

        File.WriteAllBytes(Path.Combine(directory, "special_tokens_map.json"), WriteJson(json =>
        {
            json.WriteString("bos_token", bos);
            json.WriteString("eos_token", eos);
            json.WriteString("unk_token", unk);
        }));
        File.WriteAllBytes(Path.Combine(directory, "tokenizer_config.json"), WriteJson(json =>
        {
            json.WriteBoolean("add_bos_token", true);
            json.WriteBoolean("add_eos_token", false);
            json.WriteString("bos_token", bos);
            json.WriteString("eos_token", eos);
            json.WriteString("unk_token", unk);
            json.WriteNull("pad_token");
            json.WriteBoolean("legacy", true);
            json.WriteBoolean("clean_up_tokenization_spaces", false);
            json.WriteBoolean("spaces_between_special_tokens", false);
            json.WriteStartObject("sp_model_kwargs");
            json.WriteEndObject();
            json.WriteNumber("model_max_length", modelMaxLength);
            json.WriteString("padding_side", "right");
            json.WriteString("tokenizer_class", "LlamaTokenizer");
        }));
    }

    private string PieceOrDefault(int id, string fallback) => id >= 0 && id < Pieces.Count ? Pieces[id].Piece : fallback;

    private static byte[] WriteJson(Action<Utf8JsonWriter> writeProperties)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps "<s>" readable instead of "\u003Cs\u003E", as HF writes it.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            writeProperties(json);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static ProtoWriter WriteTrainerSpec(SentencePieceTrainerSpec spec)
    {
        var proto = new ProtoWriter();
        proto.WriteString(2, spec.ModelPrefix);
        proto.WriteInt32(3, (int?)spec.ModelType);
        proto.WriteInt32(4, spec.VocabSize);
        proto.WriteFloat(10, spec.CharacterCoverage);
        proto.WriteInt32(14, spec.SeedSentencePieceSize);
        proto.WriteInt32(16, spec.NumThreads);
        proto.WriteInt32(18, spec.MaxSentenceLength);
        proto.WriteInt32(20, spec.MaxSentencePieceLength);
        proto.WriteBool(25, spec.SplitDigits);
        proto.WriteBool(26, spec.AllowWhitespaceOnlyPieces);
        proto.WriteBool(33, spec.HardVocabLimit);
        proto.WriteBool(35, spec.ByteFallback);
        proto.WriteInt32(40, spec.UnkId);
        proto.WriteInt32(41, spec.BosId);
        proto.WriteInt32(42, spec.EosId);
        proto.WriteInt32(43, spec.PadId);
        proto.WriteString(45, spec.UnkPiece);
        proto.WriteString(46, spec.BosPiece);
        proto.WriteString(47, spec.EosPiece);
        return proto;
    }

    private static ProtoWriter WriteNormalizerSpec(SentencePieceNormalizerSpec spec)
    {
        var proto = new ProtoWriter();
        proto.WriteString(1, spec.Name);
        proto.WriteBytes(2, spec.PrecompiledCharsmap);
        proto.WriteBool(3, spec.AddDummyPrefix);
        proto.WriteBool(4, spec.RemoveExtraWhitespaces);
        proto.WriteBool(5, spec.EscapeWhitespaces);
        return proto;
    }

    /// <summary>The protobuf wire format for the few field kinds a ModelProto uses (varint, fixed32 float,
    /// length-delimited); null values are absent fields.</summary>
    private sealed class ProtoWriter
    {
        private const int WireVarint = 0;
        private const int WireLengthDelimited = 2;
        private const int WireFixed32 = 5;

        private readonly MemoryStream buffer = new();

        public byte[] ToArray() => buffer.ToArray();

        public void WriteVarint(int field, ulong value)
        {
            WriteTag(field, WireVarint);
            WriteRawVarint(value);
        }

        // int32 is sign-extended to 64 bits, so -1 takes ten bytes (protobuf's rule for negative int32).
        public void WriteInt32(int field, int? value)
        {
            if (value is { } v) WriteVarint(field, (ulong)(long)v);
        }

        public void WriteBool(int field, bool? value)
        {
            if (value is { } v) WriteVarint(field, v ? 1UL : 0UL);
        }

        public void WriteFloat(int field, float? value)
        {
            if (value is not { } v) return;
            WriteTag(field, WireFixed32);
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(bytes, v);
            buffer.Write(bytes);
        }

        public void WriteString(int field, string? value)
        {
            if (value is not null) WriteBytes(field, Encoding.UTF8.GetBytes(value));
        }

        public void WriteBytes(int field, byte[]? value)
        {
            if (value is null) return;
            WriteTag(field, WireLengthDelimited);
            WriteRawVarint((ulong)value.Length);
            buffer.Write(value);
        }

        public void WriteMessage(int field, ProtoWriter message) => WriteBytes(field, message.ToArray());

        private void WriteTag(int field, int wireType) => WriteRawVarint((ulong)((field << 3) | wireType));

        private void WriteRawVarint(ulong value)
        {
            while (value >= 0x80)
            {
                buffer.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            buffer.WriteByte((byte)value);
        }
    }
}
