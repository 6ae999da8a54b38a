using System.Text.Json.Nodes;

namespace LlavaMed.Evaluation;

/// <summary>The scores LLaVA-Med v1.0.0's scripts print (<c>llava/eval/run_eval.py</c> and
/// <c>run_eval_batch.py</c>), as fractions. Open metrics are per-question means over the questions whose
/// answer_type is exactly "OPEN", closed ones over exactly "CLOSED" (others, e.g. "CLOSED ", are skipped by the
/// scripts and counted in <see cref="Unscored"/>). A mean over no questions is null where the scripts would
/// divide by zero. Closed questions get one accuracy per rule the scripts have used (<see cref="LlavaMedV1Metrics.ClosedRules"/>):
/// <see cref="ClosedAccuracy"/> is run_eval.py's at the v1.0.0 tag (every closed question counts);
/// <see cref="ClosedAccuracyPreFix"/> is run_eval.py's before that fix (commit bdd4809), over the
/// <see cref="ClosedCountedPreFix"/> questions it kept, for comparison with numbers published with it;
/// <see cref="ClosedAccuracySubstring"/> is run_eval_batch.py's.</summary>
public sealed record LlavaMedV1Scores(
    int Open, int Closed, int Unscored,
    double ClosedAccuracy, double ClosedAccuracyPreFix, int ClosedCountedPreFix, double ClosedAccuracySubstring, double? ClosedRecall,
    double? OpenRecall, double? OpenPrecision, double? OpenF1, double? ExactMatch, double? OpenAccuracySubstring,
    double? OpenAccuracyCandidates, double? Bleu, double? Bleu1, double? Bleu2, double? Bleu3, double? Bleu4)
{
    /// <summary>The JSON key of <see cref="ClosedAccuracyPreFix"/>. A stored llava-med-v1 object without it was written
    /// before <c>closed_accuracy</c> followed v1.0.0's rule: its <c>closed_accuracy</c> is the pre-fix number.</summary>
    public const string PreFixClosedAccuracyKey = "closed_accuracy_pre_fix_bdd4809";

    public JsonObject ToJson() => new()
    {
        ["n_open"] = Open,
        ["n_closed"] = Closed,
        ["n_unscored"] = Unscored,
        ["closed_accuracy"] = ClosedAccuracy,
        [PreFixClosedAccuracyKey] = ClosedAccuracyPreFix,
        ["n_closed_counted"] = ClosedCountedPreFix,
        ["closed_accuracy_substring"] = ClosedAccuracySubstring,
        ["closed_recall"] = ClosedRecall,
        ["open_recall"] = OpenRecall,
        ["open_precision"] = OpenPrecision,
        ["open_f1"] = OpenF1,
        ["exact_match"] = ExactMatch,
        ["open_accuracy_substring"] = OpenAccuracySubstring,
        ["open_accuracy_candidates"] = OpenAccuracyCandidates,
        ["bleu"] = Bleu,
        ["bleu_1"] = Bleu1,
        ["bleu_2"] = Bleu2,
        ["bleu_3"] = Bleu3,
        ["bleu_4"] = Bleu4,
    };

    /// <summary><c>closed_accuracy</c> of a stored llava-med-v1 object (a run's <c>metrics.json</c>), or null when it
    /// was written before that key followed v1.0.0's rule (no <see cref="PreFixClosedAccuracyKey"/> beside it), so
    /// that numbers of the two rules are never shown as one.</summary>
    public static double? StoredClosedAccuracy(JsonNode? stored) =>
        stored?[PreFixClosedAccuracyKey] is not null && stored["closed_accuracy"] is JsonValue value && value.TryGetValue<double>(out var number)
            ? number : null;
}

/// <summary>Precision, recall and F1 of one answer as LLaVA-Med's <c>calculate_f1score</c> counts them.</summary>
public readonly record struct WordOverlap(double F1, double Precision, double Recall);

/// <summary>LLaVA-Med v1.0.0's per-question metrics and their aggregation. The scripts first lower-case and
/// normalise both texts once (<see cref="LlavaMedText.Normalize"/>); the substring rules and BLEU use that text;
/// <see cref="ExactMatch"/>, <see cref="Overlap"/> and <see cref="CandidateHit"/> normalise it a second time
/// themselves (which only matters past 32 periods).</summary>
public static class LlavaMedV1Metrics
{
    public const string Name = "llava-med-v1";

    /// <summary>The scripts' first step for both texts: <c>normalize_word(text.lower())</c>.</summary>
    public static string Prepare(string text) => LlavaMedText.Normalize(PythonText.Lower(text));

    /// <summary>Which rule each closed number follows, in one line (<c>llava-med eval vqa</c> prints it).</summary>
    public const string ClosedRules =
        "closed rules: closed_accuracy = run_eval.py at v1.0.0 (b9a98a7: every CLOSED question counts; a hit says yes/no and contains the answer); "
        + $"{LlavaMedV1Scores.PreFixClosedAccuracyKey} = run_eval.py before that fix (wrong answers that say yes/no left out; n_closed_counted kept); "
        + "closed_accuracy_substring = run_eval_batch.py (contains the answer)";

    /// <summary>run_eval.py's test for a yes/no answer: "yes" or "no" anywhere in the prepared prediction (also inside
    /// "nodule", "not", "know").</summary>
    static bool SaysYesOrNo(string prediction) =>
        prediction.Contains("yes", StringComparison.Ordinal) || prediction.Contains("no", StringComparison.Ordinal);

    /// <summary><c>run_eval.py</c>'s closed rule at the v1.0.0 tag (b9a98a7, "fix closed accuracy calculation"), on
    /// prepared texts: a hit when the prediction says yes or no (<see cref="SaysYesOrNo"/>) and contains the ground
    /// truth; every other closed question is a miss. So "nodule" is a hit for "no", and a correct answer to a
    /// two-choice question ("left or right?") is a miss.</summary>
    public static bool ClosedHitRunEval(string prediction, string groundTruth) =>
        SaysYesOrNo(prediction) && prediction.Contains(groundTruth, StringComparison.Ordinal);

    /// <summary><c>run_eval.py</c>'s closed rule before that fix (bdd4809, the tag's parent): the same hits, but a
    /// prediction that says yes or no without containing the ground truth is dropped from the count (null: neither hit
    /// nor miss), which inflates the accuracy (a constant "no" scores 1.0); a prediction without yes/no is a miss.</summary>
    public static bool? ClosedHitRunEvalPreFix(string prediction, string groundTruth) =>
        ClosedHitRunEval(prediction, groundTruth) ? true : SaysYesOrNo(prediction) ? null : false;

    /// <summary><c>run_eval_batch.py</c>'s rule for closed questions, and its open "accuracy": the prepared ground
    /// truth is a substring of the prepared prediction ("no" counts as found in "nodule"; an empty ground truth is
    /// always found).</summary>
    public static bool SubstringHit(string prediction, string groundTruth) =>
        prediction.Contains(groundTruth, StringComparison.Ordinal);

    /// <summary><c>calculate_exactmatch</c>: the number of distinct ground-truth words found in the prediction,
    /// divided by the number of prediction words (with repeats); 0 for an empty prediction. Not an exact match.</summary>
    public static double ExactMatch(string prediction, string groundTruth)
    {
        var predictionWords = LlavaMedText.WordCounts(LlavaMedText.Normalize(prediction));
        var groundTruthWords = LlavaMedText.WordCounts(LlavaMedText.Normalize(groundTruth));
        int found = groundTruthWords.Keys.Count(predictionWords.ContainsKey);
        int total = predictionWords.Values.Sum();
        return total == 0 ? 0.0 : (double)found / total;
    }

    /// <summary><c>calculate_f1score</c>: over the distinct words of both texts, true positives add the
    /// prediction's count of each shared word, false positives the prediction's count of its other words, false
    /// negatives the ground truth's count of its other words. So repeating a correct word raises recall ("effusion
    /// effusion effusion" against "pleural effusion" has recall 3/4). All three are 0 when either text has no words
    /// or nothing is shared.</summary>
    public static WordOverlap Overlap(string prediction, string groundTruth)
    {
        var predictionWords = LlavaMedText.WordCounts(LlavaMedText.Normalize(prediction));
        var groundTruthWords = LlavaMedText.WordCounts(LlavaMedText.Normalize(groundTruth));
        if (predictionWords.Count == 0 || groundTruthWords.Count == 0) return default;
        int truePositives = 0, falsePositives = 0, falseNegatives = 0;
        foreach (var (word, count) in predictionWords)
            if (groundTruthWords.ContainsKey(word)) truePositives += count;
            else falsePositives += count;
        foreach (var (word, count) in groundTruthWords)
            if (!predictionWords.ContainsKey(word)) falseNegatives += count;
        if (truePositives == 0) return default;
        double precision = (double)truePositives / (truePositives + falsePositives);
        double recall = (double)truePositives / (truePositives + falseNegatives);
        return new WordOverlap(2 * precision * recall / (precision + recall), precision, recall);
    }

    /// <summary><c>calculate_appearance_with_normalization</c> (run_eval.py's "open accuracy", which needs the
    /// training set's open answers): each normalised candidate is scored by the distinct prediction words it
    /// contains over its own distinct words; the first best candidate is the model's answer, a hit when it equals the
    /// twice-normalised ground truth.</summary>
    public static bool CandidateHit(string prediction, string groundTruth, IReadOnlyList<string> candidates)
    {
        if (candidates.Count == 0) throw new ArgumentException("the candidate answer list is empty");
        var predictionWords = LlavaMedText.WordCounts(LlavaMedText.Normalize(prediction)).Keys;
        string? best = null;
        double bestScore = double.NegativeInfinity;
        foreach (var raw in candidates)
        {
            var candidate = LlavaMedText.Normalize(raw);
            var candidateWords = LlavaMedText.WordCounts(candidate);
            double score = candidateWords.Count == 0 ? 0.0
                : (double)predictionWords.Count(candidateWords.ContainsKey) / candidateWords.Count;
            if (score > bestScore) (best, bestScore) = (candidate, score);
        }
        return best == LlavaMedText.Normalize(groundTruth);
    }

    /// <summary>Scores questions paired by position. <paramref name="openCandidates"/> (the training set's open
    /// answers) enables <see cref="LlavaMedV1Scores.OpenAccuracyCandidates"/>.</summary>
    public static LlavaMedV1Scores Score(IReadOnlyList<ScoredPair> pairs, IReadOnlyList<string>? openCandidates = null)
    {
        var closedRunEval = new List<double>();
        var closedRunEvalPreFix = new List<double>();
        var closedSubstring = new List<double>();
        var closedRecall = new List<double>();
        var open = new List<(WordOverlap Overlap, double Exact, double Substring, double? Candidate, double[] Bleu)>();
        int unscored = 0;
        var bleuWeights = new[] { NltkBleu.Uniform4, NltkBleu.Only(1), NltkBleu.Only(2), NltkBleu.Only(3), NltkBleu.Only(4) };
        foreach (var pair in pairs)
        {
            var prediction = Prepare(pair.Prediction);
            var groundTruth = Prepare(pair.GroundTruth);
            // Exact comparisons, as the scripts make them: "CLOSED " or "closed" is neither.
            if (pair.AnswerType == "OPEN")
            {
                var hypothesis = PythonText.Split(prediction);
                var reference = PythonText.Split(groundTruth);
                open.Add((Overlap(prediction, groundTruth), ExactMatch(prediction, groundTruth),
                          SubstringHit(prediction, groundTruth) ? 1 : 0,
                          openCandidates is null ? null : CandidateHit(prediction, groundTruth, openCandidates) ? 1 : 0,
                          [.. bleuWeights.Select(w => NltkBleu.SentenceBleu(reference, hypothesis, w))]));
            }
            else if (pair.AnswerType == "CLOSED")
            {
                closedRunEval.Add(ClosedHitRunEval(prediction, groundTruth) ? 1 : 0);
                if (ClosedHitRunEvalPreFix(prediction, groundTruth) is { } hit) closedRunEvalPreFix.Add(hit ? 1 : 0);
                closedSubstring.Add(SubstringHit(prediction, groundTruth) ? 1 : 0);
                closedRecall.Add(Overlap(prediction, groundTruth).Recall);
            }
            else unscored++;
        }
        double? OpenMean(Func<(WordOverlap Overlap, double Exact, double Substring, double? Candidate, double[] Bleu), double> select) =>
            open.Count == 0 ? null : PythonText.Mean(open.Select(select).ToList());
        return new LlavaMedV1Scores(
            Open: open.Count, Closed: closedSubstring.Count, Unscored: unscored,
            ClosedAccuracy: closedRunEval.Count == 0 ? 0.0 : PythonText.Mean(closedRunEval),
            ClosedAccuracyPreFix: closedRunEvalPreFix.Count == 0 ? 0.0 : PythonText.Mean(closedRunEvalPreFix),
            ClosedCountedPreFix: closedRunEvalPreFix.Count,
            ClosedAccuracySubstring: closedSubstring.Count == 0 ? 0.0 : PythonText.Mean(closedSubstring),
            ClosedRecall: closedRecall.Count == 0 ? null : PythonText.Mean(closedRecall),
            OpenRecall: OpenMean(q => q.Overlap.Recall),
            OpenPrecision: OpenMean(q => q.Overlap.Precision),
            OpenF1: OpenMean(q => q.Overlap.F1),
            ExactMatch: OpenMean(q => q.Exact),
            OpenAccuracySubstring: OpenMean(q => q.Substring),
            OpenAccuracyCandidates: openCandidates is null ? null : OpenMean(q => q.Candidate!.Value),
            Bleu: OpenMean(q => q.Bleu[0]), Bleu1: OpenMean(q => q.Bleu[1]), Bleu2: OpenMean(q => q.Bleu[2]),
            Bleu3: OpenMean(q => q.Bleu[3]), Bleu4: OpenMean(q => q.Bleu[4]));
    }
}

/// <summary>One question's ground truth, its answer_type as written in the file, and the model's answer.</summary>
public sealed record ScoredPair(string Id, string? AnswerType, string GroundTruth, string Prediction);
