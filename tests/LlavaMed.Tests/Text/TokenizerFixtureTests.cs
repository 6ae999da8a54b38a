using System.Text.Json;
using LlavaMed.Text;

namespace LlavaMed.Tests.Text;

/// <summary>Ids from the reference tokenizer (HF slow LlamaTokenizer, legacy=True) in
/// shared/fixtures/tokenizer/prompts_token_ids.json.</summary>
public class TokenizerFixtureTests
{
    private sealed record FixtureCase(
        string Kind, string Prompt, long[] InputIds, string[] Chunks, int[][] ChunkIds, int[][] RawIds, long[] LegacyFalseIds);

    private static IReadOnlyList<FixtureCase> LoadCases()
    {
        var path = Path.Combine(SharedFixtures.Tokenizer, "prompts_token_ids.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.GetProperty("cases").EnumerateArray().Select(c => new FixtureCase(
            c.GetProperty("kind").GetString()!,
            c.GetProperty("prompt").GetString()!,
            c.GetProperty("input_ids").EnumerateArray().Select(x => x.GetInt64()).ToArray(),
            c.GetProperty("chunks").EnumerateArray().Select(x => x.GetString()!).ToArray(),
            c.GetProperty("chunk_token_ids_hf_legacy").EnumerateArray().Select(a => a.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray(),
            c.GetProperty("chunk_raw_sentencepiece_encode_ids").EnumerateArray().Select(a => a.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray(),
            c.GetProperty("input_ids_hf_legacy_false").EnumerateArray().Select(x => x.GetInt64()).ToArray())).ToList();
    }

    [Fact]
    public void AllTenFixturePromptsMatchTokenizerImageToken()
    {
        var tokenizer = LlavaTokenizer.FromFolder(SharedFixtures.Tokenizer);
        var cases = LoadCases();
        Assert.Equal(10, cases.Count);
        foreach (var c in cases)
        {
            TestContext.Current.TestOutputHelper?.WriteLine($"{c.Kind}: {c.InputIds.Length} ids");
            Assert.Equal(c.InputIds, tokenizer.EncodeWithImages(c.Prompt));
        }
    }

    [Fact]
    public void ChunksMatchHfLegacyAndRawSentencePiece()
    {
        var tokenizer = LlavaTokenizer.FromFolder(SharedFixtures.Tokenizer);
        foreach (var c in LoadCases())
        {
            Assert.Equal(c.Chunks, c.Prompt.Split("<image>"));
            for (var i = 0; i < c.Chunks.Length; i++)
            {
                Assert.Equal(c.ChunkIds[i], tokenizer.Encode(c.Chunks[i], addBos: true));
                Assert.Equal(c.RawIds[i], tokenizer.EncodeSentencePiece(c.Chunks[i]));
            }
        }
    }

    [Fact]
    public void LegacyFalseIdsMatch()
    {
        var tokenizer = LlavaTokenizer.FromFolder(SharedFixtures.Tokenizer, new LlavaTokenizerOptions(Legacy: false));
        foreach (var c in LoadCases())
            Assert.Equal(c.LegacyFalseIds, tokenizer.EncodeWithImages(c.Prompt));
    }

    [Fact]
    public void LegacyTextAfterEndOfSentenceGetsTheDummyPrefix()
    {
        var legacy = LlavaTokenizer.FromFolder(SharedFixtures.Tokenizer);
        var modern = LlavaTokenizer.FromFolder(SharedFixtures.Tokenizer, new LlavaTokenizerOptions(Legacy: false));
        // "</s>" is one id; legacy=True then starts "[INST]" with "▁" (447), legacy=False does not (and drops the
        // lone "▁" it would put before a leading special token).
        Assert.Equal([1, 2, 447, 94, 475, 81, 497, 476, 96], legacy.Encode("</s>[INST]", addBos: true));
        Assert.Equal([1, 2, 94, 475, 81, 497, 476, 96], modern.Encode("</s>[INST]", addBos: true));
        // A space before "</s>" is its own "▁" piece after the dummy prefix one.
        Assert.Equal([1, 447, 447, 2], legacy.Encode(" </s>", addBos: true));
    }

    [Fact]
    public void SpecialIdsAndConfig()
    {
        var tokenizer = LlavaTokenizer.FromFolder(SharedFixtures.Tokenizer);
        Assert.Equal(1, tokenizer.BosId);
        Assert.Equal(2, tokenizer.EosId);
        Assert.Equal(0, tokenizer.UnkId);
        Assert.Null(tokenizer.PadId);
        Assert.True(tokenizer.AddBosToken);
        Assert.False(tokenizer.AddEosToken);
        Assert.Equal(2048, tokenizer.ModelMaxLength);
        Assert.Equal(512, tokenizer.VocabularySize);
        Assert.Equal(2, tokenizer.TokenToId("</s>"));
        Assert.Equal([1, 0, 1, 2], tokenizer.Encode("<unk><s></s>", addBos: true));
        Assert.Null(tokenizer.TokenToId("<im_patch>"));
    }

    [Fact]
    public void PromptWithoutBosKeepsChunksWhole()
    {
        var tokenizer = LlavaTokenizer.FromFolder(SharedFixtures.Tokenizer);
        var chunked = tokenizer.Encode("[INST] ", addBos: false).Select(i => (long)i)
            .Append(LlavaTokenizer.ImageTokenIndex)
            .Concat(tokenizer.Encode("\nHi", addBos: false).Select(i => (long)i));
        // A tokenizer without BOS: offset 0, one -200 between whole chunks.
        var noBos = NoBos(tokenizer);
        Assert.Equal(chunked, noBos.EncodeWithImages("[INST] <image>\nHi"));
    }

    private static LlavaTokenizer NoBos(LlavaTokenizer _)
    {
        var dir = Path.Combine(Path.GetTempPath(), "llavamed-text-nobos-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(SharedFixtures.Tokenizer, "tokenizer.model"), Path.Combine(dir, "tokenizer.model"));
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"add_bos_token": false, "legacy": true}""");
        try { return LlavaTokenizer.FromFolder(dir); }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
