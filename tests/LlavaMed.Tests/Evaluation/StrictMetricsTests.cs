using LlavaMed.Evaluation;

namespace LlavaMed.Tests.Evaluation;

public sealed class StrictMetricsTests
{
    [Theory]
    [InlineData("The Left Lung.", "left lung")]
    [InlineData("Two", "2")]
    [InlineData("x-ray", "xray")]                      // SQuAD deletes punctuation
    [InlineData("  an   answer  ", "answer")]
    [InlineData("", "")]
    public void NormalizeIsSquadsWithNumberWords(string text, string expected) =>
        Assert.Equal(expected, StrictMetrics.Normalize(text));

    [Theory]
    [InlineData("No, there is no nodule.", "no")]
    [InlineData("Yes, it is not enlarged.", "yes")]    // the first yes/no word decides
    [InlineData("Nodule present", null)]               // "no" inside a word does not count
    [InlineData("It is not enlarged", null)]           // "not" is not "no"
    [InlineData("I don't know", null)]
    [InlineData("", null)]
    public void PolarityNeedsAWholeYesOrNo(string prediction, string? expected) =>
        Assert.Equal(expected, StrictMetrics.Polarity(prediction));

    [Theory]
    [InlineData("Nodule present", "no", false)]
    [InlineData("No.", "no", true)]
    [InlineData("yes", "No", false)]
    [InlineData("The liver", "liver", true)]           // a choice question: exact match
    [InlineData("liver and kidney", "liver", false)]
    public void ClosedCorrectRequiresTheRightAnswer(string prediction, string groundTruth, bool expected) =>
        Assert.Equal(expected, StrictMetrics.ClosedCorrect(prediction, groundTruth));

    [Theory]
    [InlineData("the left lung", "left lung", 1.0)]
    [InlineData("left upper lobe", "left lobe", 0.8)]  // P 2/3, R 1
    [InlineData("effusion effusion", "pleural effusion", 0.5)] // shared counted with multiplicity: 1; P 1/2, R 1/2
    [InlineData("kidney", "liver", 0.0)]
    [InlineData("", "", 1.0)]
    [InlineData("", "liver", 0.0)]
    public void TokenF1IsSquads(string prediction, string groundTruth, double expected) =>
        Assert.Equal(expected, StrictMetrics.TokenF1(prediction, groundTruth), 12);

    [Fact]
    public void ScoreSplitsByLenientAnswerType()
    {
        ScoredPair[] pairs =
        [
            new("1", "CLOSED ", "yes", "Yes, it is."),         // trailing space: still closed here
            new("2", "closed", "no", "Nodule present"),        // wrong: no whole "no"
            new("3", "CLOSED", "liver", "the liver"),           // choice question, right
            new("4", "OPEN", "left lung", "The left lung."),
            new("5", "OPEN", "pleural effusion", "effusion"),
            new("6", null, "two", "2"),                         // no type: "other"
        ];
        var s = StrictMetrics.Score(pairs);
        Assert.Equal((2, 3, 2, 1), (s.Open, s.Closed, s.YesNo, s.Other));
        Assert.Equal(0.5, s.YesNoAccuracy);
        Assert.Equal(2.0 / 3, s.ClosedAccuracy);
        Assert.Equal(0.5, s.OpenExactMatch);
        Assert.Equal(4.0 / 6, s.OverallAccuracy);              // questions 1, 3, 4, 6
        Assert.Equal(3.0 / 6, s.ExactMatch);                   // 3, 4, 6: "Yes, it is." is not exactly "yes"
        Assert.Equal((1.0 + 2.0 / 3) / 2, s.OpenTokenF1!.Value, 12);
    }
}
