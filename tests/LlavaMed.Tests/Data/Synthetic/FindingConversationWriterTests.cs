using LlavaMed.Data.SelfInstruct;
using LlavaMed.Data.Synthetic;

namespace LlavaMed.Tests.Data.Synthetic;

public sealed class FindingConversationWriterTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-findings-").FullName;
    readonly SyntheticCorpusLayout corpus;

    public FindingConversationWriterTests() =>
        corpus = SyntheticCorpus.Generate(temporary, new SyntheticCorpusOptions(Seed: 3, Figures: 60, GeneralScenes: 0, ImageSize: 32)).Layout;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    static string AnswerTo(IReadOnlyList<ConversationPair> pairs, Func<string, bool> question) =>
        pairs.Single(p => question(p.Question)).Answer;

    [Fact]
    public void EveryAnswerStatesTheFiguresTruth()
    {
        var records = corpus.ReadFindings();
        Assert.Contains(records, r => r.IsNormal);
        Assert.Contains(records, r => r.Count > 1);
        foreach (var record in records)
        {
            var pairs = FindingConversationWriter.Write(record);
            Assert.InRange(pairs.Count, 4, 10);
            var presence = pairs.Single(p => p.Question.StartsWith("Does the image show") || p.Question.StartsWith("Is there evidence"));
            Assert.StartsWith(presence.Question.Contains(" " + record.Finding + "?") ? "Yes" : "No", presence.Answer);
            var modality = pairs.Single(p => p.Question.StartsWith("Was this image taken") || (p.Question.StartsWith("Is this ") && !p.Question.Contains("normal")));
            Assert.StartsWith(modality.Question.EndsWith($" {FindingConversationWriter.ModalityNoun(record.Modality)}?") ? "Yes" : "No", modality.Answer);
            var kind = AnswerTo(pairs, q => q.Contains("type") || q.Contains("modality was") || q.Contains("kind"));
            Assert.Contains(record.Modality, kind);
            Assert.Contains(record.Anatomy, kind);
            var finding = AnswerTo(pairs, q => q.Contains("main finding") || q.Contains("abnormality") || q.Contains("What does the image show"));
            if (record.IsNormal)
            {
                Assert.Contains("normal", finding);
                Assert.DoesNotContain(pairs, p => p.Question.StartsWith("Where") || p.Question.StartsWith("How many"));
                continue;
            }
            Assert.Contains(record.FindingSpec!.Countable && record.Count > 1 ? record.FindingSpec.Plural : record.Finding, finding);
            if (record.Location is not null)
                Assert.Contains($"in the {record.Location}", AnswerTo(pairs, q => q.StartsWith("Where")));
            if (record.Laterality is not null)
                Assert.Contains($"on the {record.Laterality} side", AnswerTo(pairs, q => q.Contains("side")));
            if (record.Size is not null)
                Assert.Contains(record.Size, AnswerTo(pairs, q => q.Contains("large")));
            if (record.FindingSpec.Countable)
                Assert.Contains(record.Count.ToString(), AnswerTo(pairs, q => q.StartsWith("How many")));
            if (record.Domain is BiomedicalDomain.Histology)
                Assert.Contains(record.Appearance!, AnswerTo(pairs, q => q.Contains("stain")));
            if (record.Domain is BiomedicalDomain.Gross)
                Assert.Contains(record.Appearance!, AnswerTo(pairs, q => q.Contains("color")));
        }
    }

    [Fact]
    public void SameFigureSameConversationAndUnknownFiguresAreErrors()
    {
        var writer = FindingConversationWriter.ForCaptionsFile(corpus.InstructFigCaptions);
        Assert.NotNull(writer);
        var (figures, _) = FigureCaptionRecord.ReadFile(corpus.InstructFigCaptions);
        Assert.Equal(writer.Write(figures[0]), writer.Write(figures[0]));
        Assert.Throws<KeyNotFoundException>(() => writer.Write(figures[0] with { PairId = "not_in_corpus" }));
        Assert.Null(FindingConversationWriter.ForCaptionsFile(Path.Combine(temporary, "elsewhere", "deeper", "captions.json")));
    }
}
