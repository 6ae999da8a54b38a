using LlavaMed.Data;
using LlavaMed.Views;

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

    /// <summary>Scores every system on the groups of <paramref name="groupOf"/>; the groups are those of the ground
    /// truth, in <see cref="By"/>'s order, so every system has the same.</summary>
    public static GroupComparison Compare(string grouping, IReadOnlyList<LlavaSample> groundTruth, IReadOnlyList<ScoredSystem> systems,
                                          Func<LlavaSample, string?> groupOf, VqaMetricSets metrics = VqaMetricSets.All)
    {
        if (systems.Count == 0) throw new ArgumentException("no systems to compare", nameof(systems));
        var scored = systems.Select(s => By(groundTruth, s.Answers, groupOf, metrics)).ToList();
        return new GroupComparison(grouping, scored[0].Select(g => g.Group).ToList(), scored[0].Select(g => g.Questions).ToList(),
                                   systems.Select(s => s.Name).ToList(),
                                   scored.Select(groups => (IReadOnlyList<VqaReport>)groups.Select(g => g.Report).ToList()).ToList());
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

/// <summary>A model or baseline to compare: its name and its answers to the test questions.</summary>
public sealed record ScoredSystem(string Name, IReadOnlyList<AnswerRecord> Answers);

/// <summary>Several systems scored on the same groups of questions: <see cref="Reports"/>[system][group].</summary>
public sealed record GroupComparison(string Grouping, IReadOnlyList<string> Groups, IReadOnlyList<int> Questions,
                                     IReadOnlyList<string> Systems, IReadOnlyList<IReadOnlyList<VqaReport>> Reports)
{
    /// <summary>The strict overall accuracy (<see cref="StrictScores.OverallAccuracy"/>: closed questions by polarity
    /// or exact match, open ones by exact match) of every system on every group.</summary>
    public double StrictAccuracy(int system, int group) => Reports[system][group].Strict?.OverallAccuracy ?? 0;

    /// <summary>Grouped bars: per group (labelled with its question count) one bar per system.</summary>
    public Plotting.Chart AccuracyChart(string? title = null) =>
        Plotting.Charts.GroupedBars(Groups.Select((g, i) => $"{g} (n={Questions[i]})"),
            Systems.Select((name, s) => new Plotting.BarSeries(name, Groups.Select((_, g) => StrictAccuracy(s, g)).ToList())),
            title ?? $"Strict accuracy by {Grouping}", Grouping, "strict accuracy");

    /// <summary>A table: group, questions, then each system's strict accuracy and token F1 in percent.</summary>
    public Views.HtmlView Table() => Views.HtmlView.Table(
        [Grouping, "questions", .. Systems.SelectMany(s => new[] { $"{s} accuracy %", $"{s} token F1 %" })],
        Groups.Select((group, g) => (IReadOnlyList<string>)[group, Questions[g].ToString(),
            .. Systems.SelectMany((_, s) => new[] { VqaReportTable.Percent(StrictAccuracy(s, g)),
                                                    VqaReportTable.Percent(Reports[s][g].Strict?.TokenF1) })]));
}
