using System.Text;

namespace LlavaMed.Text;

/// <summary>
/// Turns generated ids into text as they arrive. Byte-fallback pieces that form one UTF-8 character are held
/// back until the character is complete, and the first piece's SentencePiece dummy-prefix space is removed, so
/// the concatenated outputs equal <see cref="LlavaTokenizer.Decode(IEnumerable{long}, bool)"/> of all ids.
/// </summary>
public sealed class TokenStreamDecoder
{
    private readonly LlavaTokenizer tokenizer;
    private readonly bool skipSpecialTokens;
    private readonly List<byte> pendingBytes = [];
    private bool atSegmentStart = true;

    public TokenStreamDecoder(LlavaTokenizer tokenizer, bool skipSpecialTokens = true)
    {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>The text that <paramref name="id"/> completes (possibly empty).</summary>
    public string Append(long id)
    {
        if (id < 0 || id >= tokenizer.VocabularySize) return "";   // image placeholder or padding beyond the vocabulary
        if (tokenizer.IsSpecial(id))
        {
            // Skipped special tokens vanish without ending the SentencePiece segment (HF drops them before decoding).
            if (skipSpecialTokens) return "";
            var before = DecodeBytes(pendingBytes.Count);
            pendingBytes.Clear();
            atSegmentStart = true;
            return before + tokenizer.IdToToken((int)id);
        }

        var bytes = tokenizer.PieceBytes((int)id, out var startsWithSpace);
        // SentencePiece removes the space that stands for the dummy prefix, only on a segment's first piece.
        var skip = atSegmentStart && startsWithSpace ? 1 : 0;
        atSegmentStart = false;
        for (var i = skip; i < bytes.Length; i++) pendingBytes.Add(bytes[i]);
        return DecodeBytes(pendingBytes.Count - IncompleteTailLength());
    }

    /// <summary>Whatever is still held back (an unfinished UTF-8 sequence comes out as U+FFFD).</summary>
    public string Flush() => DecodeBytes(pendingBytes.Count);

    private string DecodeBytes(int count)
    {
        if (count <= 0) return "";
        var text = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pendingBytes)[..count]);
        pendingBytes.RemoveRange(0, count);
        return text;
    }

    // Number of trailing bytes that start a multi-byte UTF-8 character whose remaining bytes have not arrived yet.
    private int IncompleteTailLength()
    {
        var n = pendingBytes.Count;
        for (var k = 1; k <= Math.Min(3, n); k++)
        {
            var b = pendingBytes[n - k];
            if ((b & 0xC0) == 0x80) continue;   // continuation byte: keep looking for the lead byte
            var needed = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return needed > k ? k : 0;
        }
        return 0;
    }
}
