using System.Globalization;
using System.Text;

namespace LlavaMed.Evaluation;

/// <summary>Python's string semantics where the reference metrics depend on them: <c>str.split()</c> with no
/// argument, <c>\d</c> in a <c>re</c> pattern, <c>math.fsum</c>. Reproducing a Python metric to the last digit
/// needs these exactly, not .NET's near equivalents.</summary>
public static class PythonText
{
    /// <summary>Python's whitespace for <c>str.split()</c>: .NET's <see cref="char.IsWhiteSpace(char)"/> plus the
    /// four ASCII information separators U+001C..U+001F.</summary>
    public static bool IsWhiteSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001c' and <= '\u001f';

    /// <summary><c>str.lower()</c>: .NET's invariant lower case plus Python's two differences: U+0130 (İ) becomes
    /// "i" + U+0307, and a capital sigma ending a word becomes ς (cased letter before it, none after it, skipping
    /// case-ignorable marks).</summary>
    public static string Lower(string text)
    {
        var lower = text.ToLowerInvariant();
        if (!text.Contains('\u0130') && !text.Contains('\u03a3')) return lower;
        var result = new StringBuilder(text.Length + 4);
        for (int i = 0; i < text.Length; i++)
            result.Append(text[i] switch
            {
                '\u0130' => "i\u0307",
                '\u03a3' => IsFinalSigma(text, i) ? "\u03c2" : "\u03c3",
                _ => lower[i].ToString(),
            });
        return result.ToString();
    }

    static bool IsFinalSigma(string text, int index)
    {
        static bool Cased(char c) => char.GetUnicodeCategory(c) is UnicodeCategory.UppercaseLetter
            or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter;
        static bool CaseIgnorable(char c) => "'.:\u00b7\u00ad\u2018\u2019\u2024\u2027".Contains(c)
            || char.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark
                or UnicodeCategory.Format or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;
        int before = index - 1;
        while (before >= 0 && CaseIgnorable(text[before])) before--;
        int after = index + 1;
        while (after < text.Length && CaseIgnorable(text[after])) after++;
        return before >= 0 && Cased(text[before]) && !(after < text.Length && Cased(text[after]));
    }

    /// <summary><c>text.split()</c>: runs of whitespace separate words; no empty words.</summary>
    public static List<string> Split(string text)
    {
        var words = new List<string>();
        int start = -1;
        for (int i = 0; i <= text.Length; i++)
        {
            bool boundary = i == text.Length || IsWhiteSpace(text[i]);
            if (boundary && start >= 0)
            {
                words.Add(text[start..i]);
                start = -1;
            }
            else if (!boundary && start < 0) start = i;
        }
        return words;
    }

    /// <summary><c>re</c>'s <c>\d</c> on str patterns: any Unicode decimal digit (category Nd), by code point.</summary>
    public static bool IsDigitAt(string text, int index) =>
        index < text.Length && Rune.TryGetRuneAt(text, index, out var rune) && Rune.IsDigit(rune);

    /// <summary>The code point before <paramref name="index"/> is a Unicode decimal digit.</summary>
    public static bool IsDigitBefore(string text, int index)
    {
        if (index <= 0) return false;
        int start = index >= 2 && char.IsLowSurrogate(text[index - 1]) && char.IsHighSurrogate(text[index - 2])
            ? index - 2 : index - 1;
        return IsDigitAt(text, start);
    }

    /// <summary><c>math.fsum</c>: the correctly rounded sum of the values (Shewchuk's exact partial sums with
    /// CPython's final half-even correction). Finite inputs only.</summary>
    public static double FSum(IEnumerable<double> values)
    {
        var partials = new List<double>();
        foreach (var value in values)
        {
            double x = value;
            int kept = 0;
            for (int j = 0; j < partials.Count; j++)
            {
                double y = partials[j];
                if (Math.Abs(x) < Math.Abs(y)) (x, y) = (y, x);
                double high = x + y;
                double low = y - (high - x);
                if (low != 0.0) partials[kept++] = low;
                x = high;
            }
            partials.RemoveRange(kept, partials.Count - kept);
            if (x != 0.0) partials.Add(x);
        }
        int n = partials.Count;
        if (n == 0) return 0.0;
        double sum = partials[--n];
        double lowest = 0.0;
        while (n > 0)
        {
            double x = sum;
            double y = partials[--n];
            sum = x + y;
            lowest = y - (sum - x);
            if (lowest != 0.0) break;
        }
        // Round half to even across the remaining partials, as CPython does.
        if (n > 0 && ((lowest < 0.0 && partials[n - 1] < 0.0) || (lowest > 0.0 && partials[n - 1] > 0.0)))
        {
            double y = lowest * 2.0;
            double x = sum + y;
            if (y == x - sum) sum = x;
        }
        return sum;
    }

    /// <summary>Python 3.10's built-in <c>sum</c> of floats divided by the count: plain left-to-right addition
    /// (Python 3.12 switched <c>sum</c> to compensated addition; LLaVA-Med's environment is 3.10).</summary>
    public static double Mean(IReadOnlyCollection<double> values)
    {
        double total = 0.0;
        foreach (var value in values) total += value;
        return total / values.Count;
    }
}
