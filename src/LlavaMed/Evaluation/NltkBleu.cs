namespace LlavaMed.Evaluation;

/// <summary>Sentence BLEU as nltk (3.4 to 3.9) computes it in <c>sentence_bleu</c> without a smoothing function,
/// for one reference, which is how LLaVA-Med's evaluation calls it:
/// <list type="bullet">
/// <item>modified n-gram precision: hypothesis n-gram counts clipped by the reference's, over
/// max(1, number of hypothesis n-grams);</item>
/// <item>no unigram match at all (or an empty hypothesis): the score is exactly 0;</item>
/// <item>otherwise a zero precision of a higher order is replaced by the smallest normal double
/// (<c>sys.float_info.min</c>, nltk's "method0" with its warning), so the score is tiny but not 0
/// (e.g. ≈1e-231 for a one-word exact answer under the default weights) — even when that order's weight is 0, where
/// the term contributes 0;</item>
/// <item>brevity penalty 1 when the hypothesis is longer than the reference, else exp(1 − r/c);</item>
/// <item>score = BP · exp(fsum(w_n · ln p_n)).</item>
/// </list>
/// nltk before 3.4 returned 0 whenever any used precision was 0; that older behaviour is not reproduced.</summary>
public static class NltkBleu
{
    /// <summary>nltk's default: uniform weights up to 4-grams (LLaVA-Med's "bleu_score").</summary>
    public static readonly double[] Uniform4 = [0.25, 0.25, 0.25, 0.25];

    /// <summary>Weights that keep only the n-gram precision of one order (LLaVA-Med's "bleu_score_n").</summary>
    public static double[] Only(int order) => [.. Enumerable.Range(1, 4).Select(n => n == order ? 1.0 : 0.0)];

    /// <summary>The score of <paramref name="hypothesis"/> against one <paramref name="reference"/>.</summary>
    public static double SentenceBleu(IReadOnlyList<string> reference, IReadOnlyList<string> hypothesis,
                                      IReadOnlyList<double> weights)
    {
        var precisions = Enumerable.Range(1, weights.Count)
            .Select(n => ModifiedPrecision(reference, hypothesis, n)).ToList();
        if (precisions[0].Matches == 0) return 0.0;
        double penalty = BrevityPenalty(reference.Count, hypothesis.Count);
        var logTerms = weights.Zip(precisions, (weight, p) =>
            weight * Math.Log(p.Matches == 0 ? SmallestNormal : (double)p.Matches / p.Total));
        return penalty * Math.Exp(PythonText.FSum(logTerms));
    }

    /// <summary>Clipped n-gram matches and the number of hypothesis n-grams (at least 1), as nltk's Fraction keeps
    /// them (unreduced).</summary>
    public static (int Matches, int Total) ModifiedPrecision(IReadOnlyList<string> reference,
                                                             IReadOnlyList<string> hypothesis, int order)
    {
        var hypothesisCounts = NGramCounts(hypothesis, order);
        var referenceCounts = NGramCounts(reference, order);
        int matches = hypothesisCounts.Sum(kv => Math.Min(kv.Value, referenceCounts.GetValueOrDefault(kv.Key)));
        return (matches, Math.Max(1, hypothesisCounts.Values.Sum()));
    }

    /// <summary>nltk's brevity penalty for hypothesis length c and closest reference length r.</summary>
    public static double BrevityPenalty(int referenceLength, int hypothesisLength) =>
        hypothesisLength > referenceLength ? 1.0
        : hypothesisLength == 0 ? 0.0
        : Math.Exp(1.0 - (double)referenceLength / hypothesisLength);

    static Dictionary<string, int> NGramCounts(IReadOnlyList<string> words, int order)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + order <= words.Count; i++)
        {
            // Length-prefixed words: an unambiguous key whatever characters the words hold.
            var key = string.Concat(words.Skip(i).Take(order).Select(w => $"{w.Length}:{w}"));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }

    /// <summary>Python's <c>sys.float_info.min</c>, the smallest normal double.</summary>
    const double SmallestNormal = 2.2250738585072014E-308;
}
