namespace LlavaMed.Evaluation;

/// <summary>How the closed questions with a yes/no ground truth were answered: rows are the truth (yes, no), columns
/// what the answer said under <see cref="StrictMetrics.Polarity"/> (its first whole word yes or no), or "neither"
/// when it says neither.</summary>
public sealed record YesNoConfusion(int YesAnsweredYes, int YesAnsweredNo, int YesAnsweredNeither,
                                    int NoAnsweredYes, int NoAnsweredNo, int NoAnsweredNeither)
{
    public static readonly IReadOnlyList<string> TruthLabels = ["yes", "no"];
    public static readonly IReadOnlyList<string> AnswerLabels = ["yes", "no", "neither"];

    public int Total => YesAnsweredYes + YesAnsweredNo + YesAnsweredNeither + NoAnsweredYes + NoAnsweredNo + NoAnsweredNeither;

    /// <summary>The strict yes/no accuracy (<see cref="StrictScores.YesNoAccuracy"/>); null over no questions.</summary>
    public double? Accuracy => Total == 0 ? null : (double)(YesAnsweredYes + NoAnsweredNo) / Total;

    /// <summary>[truth, answer] in the order of <see cref="TruthLabels"/> and <see cref="AnswerLabels"/>.</summary>
    public int[,] ToMatrix() => new[,]
    {
        { YesAnsweredYes, YesAnsweredNo, YesAnsweredNeither },
        { NoAnsweredYes, NoAnsweredNo, NoAnsweredNeither },
    };

    /// <summary>Counts the pairs whose answer type is CLOSED (trimmed, any case) and whose ground truth normalises to
    /// yes or no, the questions <see cref="StrictScores.YesNo"/> counts.</summary>
    public static YesNoConfusion From(IEnumerable<ScoredPair> pairs)
    {
        var counts = new int[2, 3];
        foreach (var pair in pairs)
        {
            if (!string.Equals(pair.AnswerType?.Trim(), "CLOSED", StringComparison.OrdinalIgnoreCase)) continue;
            var truth = StrictMetrics.Normalize(pair.GroundTruth);
            if (truth is not ("yes" or "no")) continue;
            counts[truth == "yes" ? 0 : 1, StrictMetrics.Polarity(pair.Prediction) switch { "yes" => 0, "no" => 1, _ => 2 }]++;
        }
        return new YesNoConfusion(counts[0, 0], counts[0, 1], counts[0, 2], counts[1, 0], counts[1, 1], counts[1, 2]);
    }
}
