using System.Globalization;
using System.Text.RegularExpressions;

namespace LlavaMed.Evaluation.Judge;

/// <summary>Reads the two scores from a judge's reply. The reference (<c>summarize_gpt_review.py</c>) takes the
/// first line split on single spaces and expects exactly two numbers; this accepts that and the variations
/// models produce: commas, "8/10", markdown, "Assistant 1: 8" labels, a blank first line.</summary>
public static partial class JudgeScores
{
    public static (double Reference, double Model)? TryParse(string reply)
    {
        var firstLine = reply.Replace("\r", "").Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0);
        if (firstLine is null) return null;
        var cleaned = OutOfTen().Replace(firstLine.Replace("*", ""), "");
        cleaned = AssistantLabel().Replace(cleaned, " ");
        var numbers = Number().Matches(cleaned).Select(m => double.Parse(m.Value, CultureInfo.InvariantCulture)).ToList();
        if (numbers.Count == 2 && numbers.All(InRange)) return (numbers[0], numbers[1]);
        // Labelled anywhere in the reply: "Assistant 1: 8 ... Assistant 2: 6".
        var first = Labelled().Match(reply.Replace("*", ""));
        var second = first.Success ? Labelled().Match(reply.Replace("*", ""), first.Index + first.Length) : Match.Empty;
        if (first.Success && second.Success && first.Groups["who"].Value == "1" && second.Groups["who"].Value == "2")
        {
            var a = double.Parse(first.Groups["score"].Value, CultureInfo.InvariantCulture);
            var b = double.Parse(second.Groups["score"].Value, CultureInfo.InvariantCulture);
            if (InRange(a) && InRange(b)) return (a, b);
        }
        return null;
    }

    static bool InRange(double score) => score is >= 0 and <= 10;

    [GeneratedRegex(@"\s*/\s*10\b")]
    private static partial Regex OutOfTen();

    [GeneratedRegex(@"\b(?:Assistant|Answer)\s*[12]\s*[:=-]?", RegexOptions.IgnoreCase)]
    private static partial Regex AssistantLabel();

    [GeneratedRegex(@"\d+(?:\.\d+)?")]
    private static partial Regex Number();

    [GeneratedRegex(@"(?:Assistant|Answer)\s*(?<who>[12])\s*(?:score)?\s*[:=-]?\s*(?<score>\d+(?:\.\d+)?)", RegexOptions.IgnoreCase)]
    private static partial Regex Labelled();
}
