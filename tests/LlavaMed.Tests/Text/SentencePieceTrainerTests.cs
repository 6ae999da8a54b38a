using System.Diagnostics;
using System.Text.Json;
using LlavaMed.Text;

namespace LlavaMed.Tests.Text;

public sealed class SentencePieceTrainerTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "spm-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public void TrainedFolderLoadsAsLlavaTokenizerWithLlamaLayout()
    {
        var sentences = BiomedicalCorpus.Sentences(200);
        var folder = Path.Combine(directory, "tokenizer");
        SentencePieceTrainer.Train(sentences, 512).WriteTokenizerFolder(folder);
        var tokenizer = LlavaTokenizer.FromFolder(folder);

        Assert.Equal(512, tokenizer.VocabularySize);
        Assert.Equal(["<unk>", "<s>", "</s>"], new[] { 0, 1, 2 }.Select(tokenizer.IdToToken));
        Assert.Equal((0, 1, 2), (tokenizer.UnkId, tokenizer.BosId, tokenizer.EosId));
        Assert.Null(tokenizer.PadId);
        Assert.True(tokenizer.AddBosToken);
        Assert.False(tokenizer.AddEosToken);
        Assert.Equal(2048, tokenizer.ModelMaxLength);
        for (var b = 0; b < 256; b++) Assert.Equal($"<0x{b:X2}>", tokenizer.IdToToken(3 + b));

        foreach (var sentence in sentences)
        {
            var ids = tokenizer.Encode(sentence);
            Assert.Equal(1, ids[0]);
            Assert.Equal(sentence, tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void UnseenCharactersFallBackToBytesAndRoundTrip()
    {
        var tokenizer = TrainDefaultTokenizer();
        foreach (var text in new[]
                 {
                     "Hémangiome 🫁 noted at 12:30 — café-au-lait spots (naïve read).",
                     "Ünïcode tëst: 肺 nodule\nand  two   spaces.",
                     "Zygomatic QUIZ: x² ≈ 7 ± 0.5 μm",
                 })
        {
            var ids = tokenizer.Encode(text);
            Assert.Equal(text, tokenizer.Decode(ids));
            Assert.DoesNotContain(tokenizer.UnkId, ids);
        }
        // "é" is not in the corpus: its two UTF-8 bytes come out as byte pieces.
        var pieces = tokenizer.EncodeSentencePiece("é").Select(tokenizer.IdToToken).ToList();
        Assert.Equal(["▁", "<0xC3>", "<0xA9>"], pieces);
    }

    [Fact]
    public void DigitsAreSplitAndFrequentWordsAreSinglePieces()
    {
        var tokenizer = TrainDefaultTokenizer();
        Assert.Equal(["▁", "2", "0", "2", "4"], tokenizer.EncodeSentencePiece("2024").Select(tokenizer.IdToToken));
        var measured = tokenizer.EncodeSentencePiece("measuring 15 mm").Select(tokenizer.IdToToken).ToList();
        Assert.All(measured.Where(p => p.Any(char.IsAsciiDigit)), p => Assert.Single(p));

        foreach (var word in new[] { "the", "in", "of" })
        {
            var id = tokenizer.TokenToId("▁" + word);
            Assert.NotNull(id);
            Assert.Equal([id.Value], tokenizer.EncodeSentencePiece(word));
        }
    }

    [Fact]
    public void SpecialTokensAndImagePlaceholderFollowLlavaRules()
    {
        var tokenizer = TrainDefaultTokenizer();
        var prompt = tokenizer.EncodeWithImages("[INST] <image>\nWhat is this? [/INST]");
        Assert.Equal(1, prompt[0]);
        Assert.Single(prompt, id => id == LlavaTokenizer.ImageTokenIndex);

        var ids = tokenizer.Encode("The lesion is benign.</s>Next turn.", addBos: false);
        Assert.Single(ids, id => id == 2);
        Assert.DoesNotContain(ids.Where(id => id != 2), id => tokenizer.IsSpecial(id));
    }

    [Fact]
    public void LearnedPiecesAreRankedLikeSentencePieceBpe()
    {
        var model = SentencePieceTrainer.Train(BiomedicalCorpus.Sentences(200), 512);
        Assert.Equal(512, model.Pieces.Count);
        Assert.Equal([SentencePieceType.Unknown, SentencePieceType.Control, SentencePieceType.Control],
            model.Pieces.Take(3).Select(p => p.Type));
        Assert.All(model.Pieces.Skip(3).Take(256), p => Assert.Equal((SentencePieceType.Byte, 0f), (p.Type, p.Score)));

        var learned = model.Pieces.Skip(259).ToList();
        Assert.All(learned, p => Assert.Equal(SentencePieceType.Normal, p.Type));
        for (var rank = 0; rank < learned.Count; rank++) Assert.Equal(-(float)rank, learned[rank].Score);
        Assert.True(float.IsNegative(learned[0].Score));   // -0.0, as sentencepiece stores the first merge

        // Merges come first (multi-character), then the alphabet; "▁" is the most frequent character.
        var firstCharacter = learned.FindIndex(p => p.Piece.EnumerateRunes().Count() == 1);
        Assert.All(learned.Take(firstCharacter), p => Assert.True(p.Piece.EnumerateRunes().Count() > 1));
        Assert.All(learned.Skip(firstCharacter), p => Assert.Single(p.Piece.EnumerateRunes()));
        Assert.Equal("▁", learned[firstCharacter].Piece);
        // split_digits, whitespace only as a prefix.
        Assert.DoesNotContain(learned, p => p.Piece.Length > 1 && p.Piece.Any(char.IsAsciiDigit));
        Assert.DoesNotContain(learned, p => p.Piece.IndexOf('▁', 1) > 0 && p.Piece.Any(c => c != '▁'));

        Assert.Equal(SentencePieceModelType.Bpe, model.TrainerSpec.ModelType);
        Assert.Equal((true, true, 512), (model.TrainerSpec.ByteFallback, model.TrainerSpec.SplitDigits, model.TrainerSpec.VocabSize));
        Assert.Equal(("identity", true, false, true), (model.NormalizerSpec.Name, model.NormalizerSpec.AddDummyPrefix,
            model.NormalizerSpec.RemoveExtraWhitespaces, model.NormalizerSpec.EscapeWhitespaces));
    }

    [Fact]
    public void TrainingIsDeterministic()
    {
        var sentences = BiomedicalCorpus.Sentences(300);
        var first = Path.Combine(directory, "first");
        var second = Path.Combine(directory, "second");
        SentencePieceTrainer.Train(sentences, 600).WriteTokenizerFolder(first);
        SentencePieceTrainer.Train(sentences.ToList(), 600).WriteTokenizerFolder(second);
        foreach (var file in new[] { "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(first, file)), File.ReadAllBytes(Path.Combine(second, file)));
    }

    [Fact]
    public void TooSmallVocabOrCorpusIsRejected()
    {
        Assert.Throws<ArgumentException>(() => SentencePieceTrainer.Train(BiomedicalCorpus.Sentences(50), 280));
        Assert.Throws<InvalidOperationException>(() => SentencePieceTrainer.Train(["a tiny corpus"], 512));
    }

    [Fact]
    public void FixtureModelReserialisesByteForByte()
    {
        var original = File.ReadAllBytes(Path.Combine(SharedFixtures.Tokenizer, "tokenizer.model"));
        var model = SentencePieceModelReader.Read(original);
        Assert.Equal(512, model.Pieces.Count);
        Assert.Equal(original, model.ToModelProtoBytes());
    }

    [Fact]
    public void FolderWrittenFromFixtureModelEncodesTheFixturePromptsAndMatchesItsJson()
    {
        var model = SentencePieceModelReader.Read(File.ReadAllBytes(Path.Combine(SharedFixtures.Tokenizer, "tokenizer.model")));
        var folder = Path.Combine(directory, "fixture-copy");
        model.WriteTokenizerFolder(folder);
        foreach (var file in new[] { "tokenizer_config.json", "special_tokens_map.json" })
            Assert.Equal(File.ReadAllText(Path.Combine(SharedFixtures.Tokenizer, file)), File.ReadAllText(Path.Combine(folder, file)));

        var tokenizer = LlavaTokenizer.FromFolder(folder);
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedFixtures.Tokenizer, "prompts_token_ids.json")));
        var cases = document.RootElement.GetProperty("cases").EnumerateArray().ToList();
        Assert.Equal(10, cases.Count);
        foreach (var c in cases)
        {
            var expected = c.GetProperty("input_ids").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            Assert.Equal(expected, tokenizer.EncodeWithImages(c.GetProperty("prompt").GetString()!));
        }
    }

    [Fact]
    public void TrainingFiveThousandSentencesIsQuick()
    {
        var sentences = BiomedicalCorpus.Sentences(5000);
        var stopwatch = Stopwatch.StartNew();
        var model = SentencePieceTrainer.Train(sentences, 512);
        var small = stopwatch.Elapsed;
        stopwatch.Restart();
        var large = SentencePieceTrainer.Train(sentences, 2048);
        var big = stopwatch.Elapsed;
        Assert.Equal(512, model.Pieces.Count);
        Assert.Equal(2048, large.Pieces.Count);
        // Reported, not asserted: timings depend on the machine.
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"5000 sentences: vocab 512 in {small.TotalSeconds:F2} s, vocab 2048 in {big.TotalSeconds:F2} s");
    }

    private LlavaTokenizer TrainDefaultTokenizer()
    {
        var folder = Path.Combine(directory, "default");
        SentencePieceTrainer.Train(BiomedicalCorpus.Sentences(200), 512).WriteTokenizerFolder(folder);
        return LlavaTokenizer.FromFolder(folder);
    }
}

/// <summary>Deterministic radiology/pathology-style sentences built from templates, varied enough for BPE to find
/// a few hundred merges (findings, anatomy, modalities, measurements, ages, dates, made-up drug names).</summary>
internal static class BiomedicalCorpus
{
    private static readonly string[] Findings =
    [
        "a small nodule", "a large mass", "mild cardiomegaly", "a pleural effusion", "patchy consolidation",
        "a hypodense lesion", "diffuse ground-glass opacities", "an enlarged lymph node", "a displaced fracture",
        "focal thickening", "a calcified granuloma", "an irregular infiltrate", "a well-circumscribed cyst",
        "periventricular hyperintensities", "moderate hydronephrosis", "a spiculated opacity", "dense fibrosis",
        "scattered atypical glands", "marked inflammation", "a hemorrhagic focus",
    ];

    private static readonly string[] Locations =
    [
        "in the right upper lobe", "in the left lower lobe", "of the liver", "in the left femur", "near the hilum",
        "in the posterior fossa", "along the lateral wall", "within the right kidney", "at the lung base",
        "in the anterior mediastinum", "of the thyroid gland", "adjacent to the aorta", "in the frontal cortex",
        "around the gallbladder", "beneath the pleura",
    ];

    private static readonly string[] Modalities =
    [
        "chest X-ray", "CT scan", "MRI", "ultrasound", "histopathology slide", "PET scan", "mammogram",
        "contrast-enhanced CT", "T2-weighted MRI", "H&E stained section",
    ];

    private static readonly string[] Templates =
    [
        "The {m} shows {f} {l}.",
        "There is {f} {l} on the {m}.",
        "Axial {m} demonstrates {f} {l}, measuring {n} mm.",
        "No evidence of {f} {l} is seen.",
        "Compared with the prior {m}, {f} {l} is unchanged.",
        "A {a}-year-old patient underwent a {m}; it revealed {f} {l}.",
        "Findings are consistent with {f} {l} (approximately {n} x {k} cm).",
        "What does the {m} show {l}? It shows {f}.",
        "The radiologist noted {f} {l} and recommended a follow-up {m} in {k} months.",
        "Impression: {f} {l}; the differential diagnosis includes infection and malignancy.",
        "The {m} from {y} shows {f} {l}; treatment with {d} was started at {n} mg daily.",
        "After {k} cycles of {d}, the {m} showed {f} {l}.",
        "Biopsy specimen {y}-{n}: {f} {l}, negative for {d} resistance markers.",
    ];

    private static readonly string[] DrugSyllables =
        ["ca", "ro", "mi", "zol", "ab", "ine", "tra", "pex", "vo", "lu", "mab", "nib", "ci", "dex", "sta", "fen"];

    public static IReadOnlyList<string> Sentences(int count) => Enumerable.Range(0, count).Select(Sentence).ToList();

    private static string Sentence(int i) =>
        Templates[i % Templates.Length]
            .Replace("{f}", Findings[i * 7 % Findings.Length])
            .Replace("{l}", Locations[i * 11 % Locations.Length])
            .Replace("{m}", Modalities[i * 3 % Modalities.Length])
            .Replace("{n}", (3 + i * 13 % 97).ToString())
            .Replace("{k}", (1 + i * 5 % 9).ToString())
            .Replace("{a}", (18 + i * 17 % 70).ToString())
            .Replace("{y}", (2000 + i % 25).ToString())
            .Replace("{d}", DrugName(i));

    // Made-up drug names (two to four syllables) give a large, open-ended word list, so big vocabularies can fill.
    private static string DrugName(int i)
    {
        var syllables = 2 + i % 3;
        var code = i * 2654435761u;
        return string.Concat(Enumerable.Range(0, syllables).Select(s => DrugSyllables[(code >> (4 * s)) % DrugSyllables.Length]));
    }
}
