using System.Buffers.Binary;
using System.Text;
using LlavaMed.Text;

namespace LlavaMed.Tests.Text;

/// <summary>Test-only ModelProto reader for the fields <see cref="SentencePieceModel"/> models, so a real
/// tokenizer.model can be re-serialised with the library's writer and compared byte for byte. Any other field is an
/// error rather than silently dropped.</summary>
internal static class SentencePieceModelReader
{
    public static SentencePieceModel Read(byte[] data)
    {
        var pieces = new List<SentencePieceEntry>();
        var trainer = new SentencePieceTrainerSpec();
        var normalizer = new SentencePieceNormalizerSpec();
        foreach (var (field, value) in Fields(data))
        {
            switch (field)
            {
                case 1: pieces.Add(ReadPiece((byte[])value)); break;
                case 2: trainer = ReadTrainerSpec((byte[])value); break;
                case 3: normalizer = ReadNormalizerSpec((byte[])value); break;
                default: throw new InvalidDataException($"unexpected ModelProto field {field}");
            }
        }
        return new SentencePieceModel(pieces, trainer, normalizer);
    }

    private static SentencePieceEntry ReadPiece(byte[] data)
    {
        string piece = "";
        float score = 0;
        var type = SentencePieceType.Normal;
        foreach (var (field, value) in Fields(data))
        {
            switch (field)
            {
                case 1: piece = Encoding.UTF8.GetString((byte[])value); break;
                case 2: score = (float)value; break;
                case 3: type = (SentencePieceType)(ulong)value; break;
                default: throw new InvalidDataException($"unexpected SentencePiece field {field}");
            }
        }
        return new(piece, score, type);
    }

    private static SentencePieceTrainerSpec ReadTrainerSpec(byte[] data)
    {
        var spec = new SentencePieceTrainerSpec();
        foreach (var (field, value) in Fields(data))
        {
            spec = field switch
            {
                2 => spec with { ModelPrefix = Text(value) },
                3 => spec with { ModelType = (SentencePieceModelType)Int(value) },
                4 => spec with { VocabSize = Int(value) },
                10 => spec with { CharacterCoverage = (float)value },
                14 => spec with { SeedSentencePieceSize = Int(value) },
                16 => spec with { NumThreads = Int(value) },
                18 => spec with { MaxSentenceLength = Int(value) },
                20 => spec with { MaxSentencePieceLength = Int(value) },
                25 => spec with { SplitDigits = Bool(value) },
                26 => spec with { AllowWhitespaceOnlyPieces = Bool(value) },
                33 => spec with { HardVocabLimit = Bool(value) },
                35 => spec with { ByteFallback = Bool(value) },
                40 => spec with { UnkId = Int(value) },
                41 => spec with { BosId = Int(value) },
                42 => spec with { EosId = Int(value) },
                43 => spec with { PadId = Int(value) },
                45 => spec with { UnkPiece = Text(value) },
                46 => spec with { BosPiece = Text(value) },
                47 => spec with { EosPiece = Text(value) },
                _ => throw new InvalidDataException($"unexpected TrainerSpec field {field}"),
            };
        }
        return spec;
    }

    private static SentencePieceNormalizerSpec ReadNormalizerSpec(byte[] data)
    {
        var spec = new SentencePieceNormalizerSpec();
        foreach (var (field, value) in Fields(data))
        {
            spec = field switch
            {
                1 => spec with { Name = Text(value) },
                2 => spec with { PrecompiledCharsmap = (byte[])value },
                3 => spec with { AddDummyPrefix = Bool(value) },
                4 => spec with { RemoveExtraWhitespaces = Bool(value) },
                5 => spec with { EscapeWhitespaces = Bool(value) },
                _ => throw new InvalidDataException($"unexpected NormalizerSpec field {field}"),
            };
        }
        return spec;
    }

    private static string Text(object value) => Encoding.UTF8.GetString((byte[])value);
    private static int Int(object value) => (int)(long)(ulong)value;
    private static bool Bool(object value) => (ulong)value != 0;

    /// <summary>(field, value) in file order: varints as ulong, fixed32 as float, length-delimited as bytes.</summary>
    private static IEnumerable<(int Field, object Value)> Fields(byte[] data)
    {
        var position = 0;
        while (position < data.Length)
        {
            var tag = ReadVarint(data, ref position);
            var field = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    yield return (field, ReadVarint(data, ref position));
                    break;
                case 2:
                    var length = (int)ReadVarint(data, ref position);
                    yield return (field, data[position..(position + length)]);
                    position += length;
                    break;
                case 5:
                    yield return (field, BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(position, 4)));
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"unexpected wire type {tag & 7}");
            }
        }
    }

    private static ulong ReadVarint(byte[] data, ref int position)
    {
        ulong result = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = data[position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
    }
}
