using System.Text.Json.Nodes;
using LlavaMed.Data;

namespace LlavaMed.Evaluation;

/// <summary>Reference points that never look at the image, written as LLaVA answer-file records so that
/// <see cref="VqaEvaluation.Evaluate"/> scores them exactly like a model. A model that does not beat them has not
/// learned to use the image. Both read the question's answer_type (OPEN / CLOSED, compared trimmed and case-folded),
/// as the VQA-RAD, SLAKE and PathVQA files give it with every question.
/// <list type="bullet">
/// <item><b>majority-answer</b>: for every test question the training set's most frequent answer of its answer type
/// (for VQA-RAD: "no" for closed, the most common open answer).</item>
/// <item><b>question-only</b>: the most frequent training answer among the training questions of the same answer type
/// with the same normalised question; without one, among those whose questions share the most words with it (Jaccard
/// overlap of the normalised word sets); without any shared word, the majority answer.</item>
/// </list>
/// Answers are counted after <see cref="StrictMetrics.Normalize"/> (so "Yes" and "yes" are one answer) and written
/// in their most frequent spelling; a tie between answers goes to the one whose normalised form sorts first (ordinal),
/// between spellings to the first met, so results are deterministic.</summary>
public static class VqaBaselines
{
    public const string MajorityAnswerModelId = "majority-answer";
    public const string QuestionOnlyModelId = "question-only";

    /// <summary>The majority answer per answer type (keys trimmed and upper-cased, e.g. CLOSED, OPEN), plus the
    /// overall majority under the empty key, for test questions whose type the training set lacks.</summary>
    public static IReadOnlyDictionary<string, string> MajorityAnswers(IReadOnlyList<LlavaSample> training)
    {
        if (training.Count == 0) throw new ArgumentException("no training questions", nameof(training));
        var majority = training.GroupBy(TypeKey).ToDictionary(g => g.Key, g => MostFrequent(g.Select(s => s.Answer)));
        majority[""] = MostFrequent(training.Select(s => s.Answer));
        return majority;
    }

    /// <summary>Answers every test question with the majority answer of its answer type.</summary>
    public static IReadOnlyList<AnswerRecord> MajorityAnswer(IReadOnlyList<LlavaSample> training, IReadOnlyList<LlavaSample> test)
    {
        var majority = MajorityAnswers(training);
        return test.Select((question, i) => Record(question, i, MajorityAnswerModelId, MajorityFor(majority, question),
                                                  "majority", null)).ToList();
    }

    /// <summary>Answers every test question from the training questions most like it (see the class summary);
    /// <c>metadata.source</c> says which rule answered (exact-question, nearest-question, majority) and
    /// <c>metadata.similarity</c> the word overlap of the nearest questions.</summary>
    public static IReadOnlyList<AnswerRecord> QuestionOnly(IReadOnlyList<LlavaSample> training, IReadOnlyList<LlavaSample> test)
    {
        var majority = MajorityAnswers(training);
        var byType = training.Select(s => (Type: TypeKey(s), Words: QuestionWords(s), Key: QuestionKey(s), s.Answer))
            .GroupBy(t => t.Type).ToDictionary(g => g.Key, g => g.ToList());
        return test.Select((question, i) =>
        {
            var candidates = byType.GetValueOrDefault(TypeKey(question)) ?? [];
            var key = QuestionKey(question);
            var same = candidates.Where(c => c.Key == key).Select(c => c.Answer).ToList();
            if (same.Count > 0) return Record(question, i, QuestionOnlyModelId, MostFrequent(same), "exact-question", 1.0);
            var words = QuestionWords(question);
            var scored = candidates.Select(c => (c.Answer, Similarity: Jaccard(words, c.Words))).ToList();
            var best = scored.Select(c => c.Similarity).DefaultIfEmpty(0).Max();
            return best > 0
                ? Record(question, i, QuestionOnlyModelId, MostFrequent(scored.Where(c => c.Similarity == best).Select(c => c.Answer)),
                         "nearest-question", best)
                : Record(question, i, QuestionOnlyModelId, MajorityFor(majority, question), "majority", null);
        }).ToList();
    }

    /// <summary>The most frequent answer after normalisation, in its most frequent original (trimmed) spelling.</summary>
    public static string MostFrequent(IEnumerable<string> answers)
    {
        var groups = answers.Select(a => a.Trim()).GroupBy(StrictMetrics.Normalize).ToList();
        if (groups.Count == 0) throw new ArgumentException("no answers", nameof(answers));
        var winner = groups.OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First();
        // Spellings tied in count: the first met wins (OrderByDescending is stable).
        return winner.GroupBy(a => a).OrderByDescending(g => g.Count()).First().Key;
    }

    static string TypeKey(LlavaSample sample) => (sample.AnswerType ?? "").Trim().ToUpperInvariant();

    static string MajorityFor(IReadOnlyDictionary<string, string> majority, LlavaSample question) =>
        majority.GetValueOrDefault(TypeKey(question)) ?? majority[""];

    /// <summary>The question without LLaVA-Med's closed-options suffix, normalised like answers.</summary>
    static string QuestionKey(LlavaSample sample) =>
        StrictMetrics.Normalize(sample.Question.Replace(DownstreamFormat.ClosedOptionsSuffix.Trim(), ""));

    static HashSet<string> QuestionWords(LlavaSample sample) => QuestionKey(sample).Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();

    static double Jaccard(HashSet<string> a, HashSet<string> b)
    {
        if (a.Count == 0 || b.Count == 0) return 0;
        int shared = a.Count(b.Contains);
        return (double)shared / (a.Count + b.Count - shared);
    }

    static AnswerRecord Record(LlavaSample question, int index, string modelId, string answer, string source, double? similarity)
    {
        var metadata = new JsonObject { ["source"] = source };
        if (similarity is { } value) metadata["similarity"] = Math.Round(value, 4);
        return new AnswerRecord(question.Id, question.Question, answer, $"{modelId}-{index}", modelId, metadata);
    }
}
