using LlavaMed.Evaluation;

namespace LlavaMed.Tests.Evaluation;

/// <summary>LLaVA-Med v1.0.0's normalisation and metrics. Expected values are worked out by hand from the
/// reference's rules; the ones marked "reference" were also printed by a run of the reference logic.</summary>
public sealed class LlavaMedV1MetricsTests
{
    [Theory]
    [InlineData("Yes.", "yes")]                       // case, trailing period
    [InlineData("Two", "2")]                          // number words
    [InlineData("none of the above", "0 of above")]   // "none" is a number word; articles go
    [InlineData("The liver", "liver")]
    [InlineData("a an the", "")]
    [InlineData("dont know", "don't know")]           // contractions gain their apostrophe
    [InlineData("somebody'd", "somebodyd")]           // ...and one loses it, as the table says
    [InlineData("it's", "it's")]                      // apostrophes are not punctuation here
    [InlineData("left-sided", "left sided")]          // a mark without a space beside it becomes a space
    [InlineData("left - sided", "left sided")]        // a mark with a space beside it is deleted
    [InlineData("x-ray, 1,000", "xray 1000")]         // a digit-comma-digit anywhere deletes every mark
    [InlineData("x-ray; CT scan!", "x ray ct scan")]  // each mark decided on its own
    [InlineData("3.5 cm.", "3.5 cm")]                 // a period before a digit stays
    [InlineData("1.5.", "1.5")]
    [InlineData("e.g. the lung", "eg lung")]
    [InlineData("What?!", "what")]
    [InlineData("(right)", "right")]
    [InlineData("ratio: 2:1", "ratio: 2:1")]          // ':' is not in the list
    [InlineData("\u00a0yes\u001f", "yes")]            // Python's whitespace, incl. U+001F
    [InlineData("", "")]
    public void NormalizeFollowsTheGlossary(string text, string expected) =>
        Assert.Equal(expected, LlavaMedV1Metrics.Prepare(text));

    [Theory]
    [InlineData("\u0130", "i\u0307")]                 // İ lower-cases to two code points in Python
    [InlineData("\u0391\u03a3 \u03a3", "\u03b1\u03c2 \u03c3")] // final sigma after a letter, plain sigma alone
    [InlineData("\u0391\u03a3'", "\u03b1\u03c2'")]        // an apostrophe after it is case-ignorable
    [InlineData("\u0391\u03a3\u0391", "\u03b1\u03c3\u03b1")]
    public void LowerIsPythons(string text, string expected) => Assert.Equal(expected, PythonText.Lower(text));

    [Fact]
    public void NormalizeKeepsAPeriodBeforeAnyUnicodeDigit() =>
        Assert.Equal("x.\u0663 y.\U0001D7CE", LlavaMedText.Normalize("x.\u0663 y.\U0001D7CE."));

    [Fact]
    public void NormalizeDeletesOnlyTheFirst32Periods()
    {
        // re.sub(..., re.UNICODE) passes 32 as the count: 40 periods leave 8 (reference).
        Assert.Equal("........ kidney", LlavaMedText.Normalize(new string('.', 40) + " kidney"));
        // A second pass, as ExactMatch and Overlap make, deletes 8 more.
        Assert.Equal("kidney", LlavaMedText.Normalize(LlavaMedText.Normalize(new string('.', 40) + " kidney")));
    }

    [Theory]
    [InlineData("nodule present", "no", true)]        // "no" inside "nodule": counted as a hit
    [InlineData("no", "no", true)]
    [InlineData("yes", "no", false)]                  // wrong and says yes/no: a miss (v1.0.0's fix)
    [InlineData("it is not known", "yes", false)]
    [InlineData("absent", "no", false)]               // neither yes nor no: a miss
    [InlineData("left", "left", false)]               // choice question answered right, still a miss
    [InlineData("no, left", "left", true)]            // ...unless the answer also says yes/no somewhere
    public void RunEvalClosedRule(string prediction, string groundTruth, bool expected) =>
        Assert.Equal(expected, LlavaMedV1Metrics.ClosedHitRunEval(prediction, groundTruth));

    [Theory]
    [InlineData("nodule present", "no", true)]
    [InlineData("no", "no", true)]
    [InlineData("yes", "no", null)]                   // wrong but says yes/no: dropped from the count
    [InlineData("it is not known", "yes", null)]      // "no" inside "not"/"known" makes it a yes/no answer
    [InlineData("absent", "no", false)]               // neither yes nor no: a miss
    [InlineData("left", "left", false)]
    public void RunEvalClosedRuleBeforeTheFix(string prediction, string groundTruth, bool? expected) =>
        Assert.Equal(expected, LlavaMedV1Metrics.ClosedHitRunEvalPreFix(prediction, groundTruth));

    [Theory]
    [InlineData("nodule present", "no", true)]
    [InlineData("yes", "no", false)]
    [InlineData("left", "left", true)]
    [InlineData("anything", "", true)]                // Python: "" in s is always true
    public void BatchSubstringRule(string prediction, string groundTruth, bool expected) =>
        Assert.Equal(expected, LlavaMedV1Metrics.SubstringHit(prediction, groundTruth));

    [Fact]
    public void RecallCountsTruePositivesWithThePredictionsRepeats()
    {
        // tp = 3 (prediction's count of "effusion"), fn = 1 ("pleural"): recall 3/4, precision 1 (reference).
        var repeated = LlavaMedV1Metrics.Overlap("effusion effusion effusion", "pleural effusion");
        Assert.Equal(0.75, repeated.Recall);
        Assert.Equal(1.0, repeated.Precision);
        Assert.Equal(2 * 1.0 * 0.75 / 1.75, repeated.F1);
        // Said once, the same answer has recall 1/2.
        Assert.Equal(0.5, LlavaMedV1Metrics.Overlap("effusion", "pleural effusion").Recall);
        // False negatives use the ground truth's count: "pleural" twice gives fn = 2, recall 1/3.
        Assert.Equal(1.0 / 3, LlavaMedV1Metrics.Overlap("effusion", "pleural effusion pleural").Recall);
    }

    [Theory]
    [InlineData("", "liver")]
    [InlineData("liver", "")]
    [InlineData("kidney", "liver")]
    [InlineData("the", "liver")]                      // only an article: no words after normalisation
    public void OverlapIsZeroWithoutWordsOrSharedWords(string prediction, string groundTruth) =>
        Assert.Equal(default, LlavaMedV1Metrics.Overlap(prediction, groundTruth));

    [Fact]
    public void ExactMatchIsDistinctFoundWordsOverPredictionWords()
    {
        Assert.Equal(1.0 / 3, LlavaMedV1Metrics.ExactMatch("effusion effusion effusion", "pleural effusion"));
        Assert.Equal(2.0 / 3, LlavaMedV1Metrics.ExactMatch("pleural pleural effusion", "pleural effusion"));
        Assert.Equal(1.0, LlavaMedV1Metrics.ExactMatch("Effusion.", "effusion"));
        Assert.Equal(0.5, LlavaMedV1Metrics.ExactMatch("right lung", "right"));
        Assert.Equal(0.0, LlavaMedV1Metrics.ExactMatch("", "liver"));
        // Ground-truth words counted once each: "liver liver" against a one-word prediction still gives 1.
        Assert.Equal(1.0, LlavaMedV1Metrics.ExactMatch("liver", "liver liver"));
    }

    [Fact]
    public void CandidateHitPicksTheFirstBestTrainingAnswer()
    {
        string[] candidates = ["right lung", "left lung", "liver", "The"];
        // "left lung" covers 2/2 of its words; "right lung" 1/2.
        Assert.True(LlavaMedV1Metrics.CandidateHit("it is in the left lung", "left lung", candidates));
        // Tie between "right lung" and "left lung" (1/2 each): the first wins.
        Assert.True(LlavaMedV1Metrics.CandidateHit("lung", "right lung", candidates));
        Assert.False(LlavaMedV1Metrics.CandidateHit("lung", "left lung", candidates));
        // Nothing in common: the first candidate is the answer.
        Assert.True(LlavaMedV1Metrics.CandidateHit("kidney", "Right lung.", candidates));
        Assert.Throws<ArgumentException>(() => LlavaMedV1Metrics.CandidateHit("x", "y", []));
    }

    [Fact]
    public void ScoreAveragesPerQuestionAndDropsWhatTheScriptsDrop()
    {
        ScoredPair[] pairs =
        [
            new("1", "CLOSED", "no", "Nodule present."),   // every rule: hit ("no" inside "nodule")
            new("2", "CLOSED", "no", "Yes."),              // v1.0.0 and batch: miss; pre-fix: dropped
            new("3", "CLOSED", "yes", "Absent"),           // every rule: miss
            new("4", "CLOSED ", "yes", "yes"),             // not exactly CLOSED: the scripts skip it
            new("5", "OPEN", "pleural effusion", "Effusion effusion effusion"),
            new("6", "OPEN", "Two", "2"),
        ];
        var scores = LlavaMedV1Metrics.Score(pairs);
        Assert.Equal((2, 3, 1), (scores.Open, scores.Closed, scores.Unscored));
        Assert.Equal(1.0 / 3, scores.ClosedAccuracy);        // 1 hit of 3
        Assert.Equal(0.5, scores.ClosedAccuracyPreFix);      // 1 hit of 2 counted
        Assert.Equal(2, scores.ClosedCountedPreFix);
        Assert.Equal(1.0 / 3, scores.ClosedAccuracySubstring);
        Assert.Equal((0.75 + 1.0) / 2, scores.OpenRecall);
        Assert.Equal((1.0 + 1.0) / 2, scores.OpenPrecision);
        Assert.Equal((1.0 / 3 + 1.0) / 2, scores.ExactMatch);
        Assert.Equal(0.5, scores.OpenAccuracySubstring);     // "pleural effusion" is not in the prediction
        Assert.Null(scores.OpenAccuracyCandidates);
        // BLEU-1 of question 5: one clipped match of 3 words, no brevity penalty; of question 6: 1.
        Assert.Equal((1.0 / 3 + 1.0) / 2, scores.Bleu1!.Value, 15);
    }

    [Fact]
    public void MeansOverNoQuestionsAreNullExceptTheClosedAccuraciesWhichTheScriptsSetTo0()
    {
        var onlyOpen = LlavaMedV1Metrics.Score([new ScoredPair("1", "OPEN", "liver", "liver")]);
        Assert.Equal(0.0, onlyOpen.ClosedAccuracy);
        Assert.Equal(0.0, onlyOpen.ClosedAccuracyPreFix);
        Assert.Equal(0.0, onlyOpen.ClosedAccuracySubstring);
        Assert.Null(onlyOpen.ClosedRecall);
        var onlyClosed = LlavaMedV1Metrics.Score([new ScoredPair("1", "CLOSED", "yes", "yes")]);
        Assert.Null(onlyClosed.OpenRecall);
        Assert.Null(onlyClosed.Bleu);
        Assert.Equal(1.0, onlyClosed.ClosedAccuracy);
        // Every closed answer is a wrong yes/no: v1.0.0 scores 0 of 1; the pre-fix rule keeps none and also says 0.
        var onlyDropped = LlavaMedV1Metrics.Score([new ScoredPair("1", "CLOSED", "yes", "no")]);
        Assert.Equal((0.0, 0.0, 0), (onlyDropped.ClosedAccuracy, onlyDropped.ClosedAccuracyPreFix, onlyDropped.ClosedCountedPreFix));
    }
}
