using LlavaMed.Data;
using LlavaMed.Evaluation;
using static LlavaMed.Tests.Evaluation.ReportTestData;

namespace LlavaMed.Tests.Evaluation;

public class BreakdownTests
{
    static readonly LlavaSample[] Test =
    [
        Question("1", "Is there a mass?", "yes", "CLOSED"),
        Question("2", "Is it normal?", "no", "CLOSED "),
        Question("3", "What organ?", "brain", "OPEN"),
        Question("4", "Is there a fracture?", "yes", "CLOSED"),
        Question("5", "Left or right?", "left", "CLOSED"),
    ];

    static readonly AnswerRecord[] Answers =
    [
        Answer("1", "Yes, there is."), Answer("2", "nodule"), Answer("3", "The brain"), Answer("4", "no"), Answer("5", "left"),
    ];

    [Fact]
    public void ByAnswerTypeScoresEachGroupOnItsOwnQuestions()
    {
        var groups = ScoreBreakdown.ByAnswerType(Test, Answers);

        Assert.Equal(["CLOSED", "OPEN"], groups.Select(g => g.Group));
        Assert.Equal([4, 1], groups.Select(g => g.Questions));
        // closed: 1 right (yes), 2 wrong ("nodule" is not "no"), 4 wrong, 5 right.
        Assert.Equal(0.5, groups[0].Report.Strict!.ClosedAccuracy);
        Assert.Equal(1.0, groups[1].Report.Strict!.OpenExactMatch);
        Assert.NotNull(groups[1].Report.LlavaMedV1);
    }

    [Fact]
    public void ByIdGroupsMissingLabelsAsUnlabelled()
    {
        var organs = new Dictionary<string, string?> { ["1"] = "CHEST", ["2"] = " CHEST ", ["3"] = "HEAD", ["4"] = "" };
        var groups = ScoreBreakdown.By(Test, Answers, ScoreBreakdown.ById(organs), VqaMetricSets.Strict);

        Assert.Equal([("(none)", 2), ("CHEST", 2), ("HEAD", 1)], groups.Select(g => (g.Group, g.Questions)));
        Assert.Null(groups[0].Report.LlavaMedV1);
        Assert.Equal(0.5, groups[0].Report.Strict!.OverallAccuracy);
    }

    [Fact]
    public void AnswersOutOfOrderAreRejectedBeforeGrouping()
    {
        var swapped = Answers.Reverse().ToArray();
        Assert.Throws<DataFormatException>(() => ScoreBreakdown.ByAnswerType(Test, swapped));
    }

    [Fact]
    public void YesNoConfusionCountsStrictPolarityOfClosedYesNoQuestions()
    {
        ScoredPair[] pairs =
        [
            new("1", "CLOSED", "yes", "Yes, there is."),
            new("2", "CLOSED ", "No", "nodule"),           // neither: "nodule" is not "no"
            new("3", "closed", "no", "No."),
            new("4", "CLOSED", "yes", "I do not know, no"), // the first yes/no word is "no"
            new("5", "OPEN", "yes", "yes"),                 // open: not counted
            new("6", "CLOSED", "left", "left"),             // not a yes/no question
        ];
        var confusion = YesNoConfusion.From(pairs);

        Assert.Equal(new YesNoConfusion(1, 1, 0, 0, 1, 1), confusion);
        Assert.Equal(4, confusion.Total);
        Assert.Equal(0.5, confusion.Accuracy);
        Assert.Equal(new[,] { { 1, 1, 0 }, { 0, 1, 1 } }, confusion.ToMatrix());
        Assert.Null(YesNoConfusion.From([]).Accuracy);
        // The same questions and judgement as the strict yes/no accuracy.
        Assert.Equal(StrictMetrics.Score(pairs).YesNoAccuracy, confusion.Accuracy);
    }

    [Fact]
    public void GalleryJudgesStrictlyAndShowsImagesOrSaysWhyNot()
    {
        var folder = Directory.CreateTempSubdirectory("llavamed-gallery-").FullName;
        try
        {
            using (var bitmap = new SkiaSharp.SKBitmap(400, 200))
            using (var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100))
                File.WriteAllBytes(Path.Combine(folder, "1.png"), data.ToArray());
            var items = AnswerGallery.Items(Test, Answers);
            Assert.Equal([true, false, true, false, true], items.Select(i => i.Correct));
            var (right, wrong) = AnswerGallery.Pick(items, 2);
            Assert.Equal(["1", "3"], right.Select(i => i.Id));
            Assert.Equal(["2", "4"], wrong.Select(i => i.Id));

            var html = AnswerGallery.Html([.. right, .. wrong], folder, thumbnailSize: 100).Html;
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(html, "data:image/png;base64,"));
            Assert.Contains("width=\"100\" height=\"50\"", html);
            Assert.Contains("image not found or unreadable: 3.png", html);
            Assert.Contains("answer: nodule", html);
            Assert.Contains("Is there a mass?", html);
            Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(html, ">wrong ").Count);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
