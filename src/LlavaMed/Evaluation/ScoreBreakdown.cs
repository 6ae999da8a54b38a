using LlavaMed.Data;

namespace LlavaMed.Evaluation;

/// <summary>The scores of one group of questions (an answer type, an organ, a modality).</summary>
public sealed record GroupScores(string Group, int Questions, VqaReport Report);

/// <summary>Scores split by a property of the question, each group scored by <see cref="VqaEvaluation.Evaluate"/> on
/// its own questions, so every metric of both sets is available per group.</summary>
public static class ScoreBreakdown
{
    /// <summary>The group of questions whose property is missing or blank.</summary>
    public const string Unlabelled = "(none)";

    /// <summary>Groups by <paramref name="groupOf"/> (trimmed; null or blank is <see cref="Unlabelled"/>) after checking
    /// that the answers pair with the questions as a whole; groups come largest first, then by name.</summary>
    public static IReadOnlyList<GroupScores> By(IReadOnlyList<LlavaSample> groundTruth, IReadOnlyList<AnswerRecord> predictions,
                                                Func<LlavaSample, string?> groupOf, VqaMetricSets metrics = VqaMetricSets.All,
                                                IReadOnlyList<string>? openCandidates = null)
    {
        VqaEvaluation.Pair(groundTruth, predictions);
        return Enumerable.Range(0, groundTruth.Count)
            .GroupBy(i => groupOf(groundTruth[i]) is { } name && !string.IsNullOrWhiteSpace(name) ? name.Trim() : Unlabelled)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new GroupScores(g.Key, g.Count(), VqaEvaluation.Evaluate(
                g.Select(i => groundTruth[i]).ToList(), g.Select(i => predictions[i]).ToList(), metrics, openCandidates)))
            .ToList();
    }

    /// <summary>By answer type, upper-cased (VQA-RAD's "CLOSED " is CLOSED).</summary>
    public static IReadOnlyList<GroupScores> ByAnswerType(IReadOnlyList<LlavaSample> groundTruth, IReadOnlyList<AnswerRecord> predictions,
                                                          VqaMetricSets metrics = VqaMetricSets.All) =>
        By(groundTruth, predictions, sample => sample.AnswerType?.ToUpperInvariant(), metrics);

    /// <summary>Looks a question's group up by its id, e.g. VQA-RAD's <c>image_organ</c> or <c>question_type</c> from
    /// <see cref="VqaRad.Read"/> (the downstream records keep only id, image, question and answer).</summary>
    public static Func<LlavaSample, string?> ById(IReadOnlyDictionary<string, string?> groups) =>
        sample => groups.GetValueOrDefault(sample.Id);
}
