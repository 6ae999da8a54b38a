using System.Text;
using System.Text.Json;
using LlavaMed.Text;

namespace LlavaMed.Tests.Text;

public class DecodingAndV10Tests
{
    private static LlavaTokenizer Tokenizer() => LlavaTokenizer.FromFolder(SharedFixtures.Tokenizer);

    [Theory]
    [InlineData("This is an axial CT scan of the abdomen.")]
    [InlineData("Ünïcode tëst: 肺 nodule — describe it.\nAlso list   two differentials.")]
    [InlineData("  leading spaces and trailing  ")]
    [InlineData("emoji 🫁 lungs")]
    public void DecodeInvertsEncode(string text)
    {
        var tokenizer = Tokenizer();
        var ids = tokenizer.Encode(text, addBos: true, addEos: true);
        Assert.Equal(text, tokenizer.Decode(ids.Select(i => (long)i), skipSpecialTokens: true));
        Assert.Equal("<s>" + text + "</s>", tokenizer.Decode(ids.Select(i => (long)i), skipSpecialTokens: false));
    }

    [Fact]
    public void StreamingEmitsWholeCharactersAndMatchesDecode()
    {
        var tokenizer = Tokenizer();
        const string text = "Ünïcode 肺 — ok 🫁.";
        var ids = tokenizer.Encode(text, addBos: false).Select(i => (long)i).ToList();
        var decoder = new TokenStreamDecoder(tokenizer);
        var parts = ids.Select(decoder.Append).Append(decoder.Flush()).ToList();
        Assert.Equal(text, string.Concat(parts));
        // Byte-fallback pieces never leak half a character: every emitted part is valid UTF-16 with no U+FFFD.
        Assert.All(parts, p => Assert.DoesNotContain('\uFFFD', p));
        Assert.Contains(parts, p => p == "肺");   // its three byte pieces come out together, after the last one
        // The first piece's dummy-prefix space is dropped; later pieces keep their spaces.
        Assert.Equal("Ü", parts.First(p => p.Length > 0));
    }

    [Fact]
    public void StreamingAfterAPromptStartsWithoutTheLeadingSpace()
    {
        var tokenizer = Tokenizer();
        // Generated ids as the model emits them: "▁This ▁is" ... then EOS, which is skipped.
        var generated = tokenizer.Encode("This is fine.", addBos: false).Select(i => (long)i).Append(tokenizer.EosId);
        var decoder = new TokenStreamDecoder(tokenizer, skipSpecialTokens: true);
        Assert.Equal("This is fine.", string.Concat(generated.Select(decoder.Append)) + decoder.Flush());
        Assert.Equal("", new TokenStreamDecoder(tokenizer).Append(LlavaTokenizer.ImageTokenIndex));
    }

    [Fact]
    public void UnfinishedByteSequenceIsFlushedAsReplacementCharacter()
    {
        var tokenizer = Tokenizer();
        var decoder = new TokenStreamDecoder(tokenizer);
        Assert.Equal("", decoder.Append(tokenizer.TokenToId("<0xE8>")!.Value));
        Assert.Equal("\uFFFD", decoder.Flush());
    }

    [Fact]
    public void V10AddedTokensAreSingleIds()
    {
        var tokenizer = LlavaTokenizer.FromFolder(SharedFixtures.V10Tiny);
        Assert.Equal(512, tokenizer.PadId);
        Assert.Equal(513, tokenizer.TokenToId("<im_patch>"));
        Assert.Equal(514, tokenizer.TokenToId("<im_start>"));
        Assert.Equal(515, tokenizer.TokenToId("<im_end>"));
        Assert.Equal(516, tokenizer.VocabularySize);
        Assert.Equal([1, 514, 513, 513, 515, 512], tokenizer.Encode("<im_start><im_patch><im_patch><im_end>[PAD]", addBos: true));
        Assert.Equal("ab", tokenizer.Decode([1L, 514, 513, .. tokenizer.Encode("ab", addBos: false).Select(i => (long)i), 515, 2]));
    }

    [Fact]
    public void V10SlowTokenizerIdsAreReproducedWithWhitespaceStripping()
    {
        using var caseJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedFixtures.V10Tiny, "case.json")));
        var prompt = caseJson.RootElement.GetProperty("prompt").GetString()!;
        var expected = caseJson.RootElement.GetProperty("input_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();

        // transformers 4.28 strips the "\n" before <im_start>; that is what the stored ids show.
        var v10 = LlavaTokenizer.FromFolder(SharedFixtures.V10Tiny, LlavaTokenizerOptions.LlavaMedV10);
        Assert.Equal(expected, v10.Encode(prompt));

        // Without stripping (the 4.36 slow tokenizer) the newline survives as the byte piece <0x0A> before <im_start>.
        var modern = LlavaTokenizer.FromFolder(SharedFixtures.V10Tiny);
        var ids = modern.Encode(prompt).ToArray();
        Assert.Equal(expected.Length + 1, ids.Length);
        Assert.Equal(13, ids[176]);
        Assert.Equal(514, ids[177]);
    }
}
