using System.Text;
using System.Text.Json.Nodes;

namespace LlavaMed.Evaluation;

/// <summary>Scores for honest reporting, as fractions (null over no questions). Question types are read
/// leniently here (trimmed, any case), so VQA-RAD's "CLOSED " counts as closed; any other type is "other" and
/// counts only in the all-question scores.</summary>
public sealed record StrictScores(
    int Open, int Closed, int YesNo, int Other,
    double? ExactMatch, double? OpenExactMatch, double? ClosedAccuracy, double? YesNoAccuracy,
    double? OpenTokenF1, double? TokenF1, double? OverallAccuracy)
{
    public JsonObject ToJson() => new()
    {
        ["n_open"] = Open,
        ["n_closed"] = Closed,
        ["n_yes_no"] = YesNo,
        ["n_other"] = Other,
        ["exact_match"] = ExactMatch,
        ["open_exact_match"] = OpenExactMatch,
        ["closed_accuracy"] = ClosedAccuracy,
        ["yes_no_accuracy"] = YesNoAccuracy,
        ["open_token_f1"] = OpenTokenF1,
        ["token_f1"] = TokenF1,
        ["overall_accuracy"] = OverallAccuracy,
    };
}

/// <summary>Strict VQA metrics. Normalisation is SQuAD's (lower case, ASCII punctuation deleted, a/an/the
/// dropped, whitespace collapsed) plus number words zero..ten as digits. Exact match compares normalised texts;
/// token F1 is SQuAD's (shared tokens with multiplicity); a yes/no answer is right only with the right polarity: the
/// first whole word "yes" or "no" of the prediction ("nodule", "not", "know" are not "no").</summary>
public static class StrictMetrics
{
    public const string Name = "strict";

    static readonly Dictionary<string, string> NumberWords = new()
    {
        ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4", ["five"] = "5",
        ["six"] = "6", ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10",
    };

    public static IReadOnlyList<string> Tokens(string text)
    {
        var kept = new StringBuilder(text.Length);
        foreach (var c in text.ToLowerInvariant())
            if (!(char.IsAscii(c) && char.IsPunctuation(c) || char.IsAscii(c) && char.IsSymbol(c))) kept.Append(c);
        return PythonText.Split(kept.ToString())
            .Where(word => word is not ("a" or "an" or "the"))
            .Select(word => NumberWords.GetValueOrDefault(word, word))
            .ToList();
    }

    public static string Normalize(string text) => string.Join(' ', Tokens(text));

    public static bool ExactMatch(string prediction, string groundTruth) => Normalize(prediction) == Normalize(groundTruth);

    /// <summary>SQuAD's token F1; when either side has no tokens, 1 if both have none, else 0.</summary>
    public static double TokenF1(string prediction, string groundTruth)
    {
        var predicted = Tokens(prediction);
        var expected = Tokens(groundTruth);
        if (predicted.Count == 0 || expected.Count == 0) return predicted.Count == expected.Count ? 1.0 : 0.0;
        var remaining = expected.GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
        int shared = 0;
        foreach (var token in predicted)
            if (remaining.GetValueOrDefault(token) > 0)
            {
                remaining[token]--;
                shared++;
            }
        if (shared == 0) return 0.0;
        double precision = (double)shared / predicted.Count;
        double recall = (double)shared / expected.Count;
        return 2 * precision * recall / (precision + recall);
    }

    /// <summary>"yes" or "no": the prediction's first whole word that is one of them; null when it has neither.</summary>
    public static string? Polarity(string prediction) => Tokens(prediction).FirstOrDefault(t => t is "yes" or "no");

    /// <summary>Right answer for a closed question: right polarity when the ground truth is yes/no, else exact match.</summary>
    public static bool ClosedCorrect(string prediction, string groundTruth) =>
        Normalize(groundTruth) is "yes" or "no" ? Polarity(prediction) == Normalize(groundTruth)
                                                : ExactMatch(prediction, groundTruth);

    /// <summary>The strict verdict on one answer: closed questions by <see cref="ClosedCorrect"/>, others by
    /// normalised exact match.</summary>
    public static bool IsCorrect(ScoredPair pair) =>
        string.Equals(pair.AnswerType?.Trim(), "CLOSED", StringComparison.OrdinalIgnoreCase)
            ? ClosedCorrect(pair.Prediction, pair.GroundTruth)
            : ExactMatch(pair.Prediction, pair.GroundTruth);

    public static StrictScores Score(IReadOnlyList<ScoredPair> pairs)
    {
        var kinds = pairs.Select(p => (p.AnswerType ?? "").Trim().ToUpperInvariant()).ToList();
        var exact = pairs.Select(p => ExactMatch(p.Prediction, p.GroundTruth) ? 1.0 : 0.0).ToList();
        var f1 = pairs.Select(p => TokenF1(p.Prediction, p.GroundTruth)).ToList();
        var correct = pairs.Select(p => IsCorrect(p) ? 1.0 : 0.0).ToList();
        var isYesNo = pairs.Select((p, i) => kinds[i] == "CLOSED" && Normalize(p.GroundTruth) is "yes" or "no").ToList();
        static double? Mean(IEnumerable<double> values) => values.ToList() is { Count: > 0 } list ? list.Average() : null;
        IEnumerable<double> Where(List<double> values, Func<int, bool> keep) => values.Where((_, i) => keep(i));
        return new StrictScores(
            Open: kinds.Count(k => k == "OPEN"), Closed: kinds.Count(k => k == "CLOSED"), YesNo: isYesNo.Count(y => y),
            Other: kinds.Count(k => k is not ("OPEN" or "CLOSED")),
            ExactMatch: Mean(exact),
            OpenExactMatch: Mean(Where(exact, i => kinds[i] == "OPEN")),
            ClosedAccuracy: Mean(Where(correct, i => kinds[i] == "CLOSED")),
            YesNoAccuracy: Mean(Where(correct, i => isYesNo[i])),
            OpenTokenF1: Mean(Where(f1, i => kinds[i] == "OPEN")),
            TokenF1: Mean(f1),
            OverallAccuracy: Mean(correct));
    }
}
