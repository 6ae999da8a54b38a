using System.Text.Json.Nodes;
using LlavaMed.Data;
using LlavaMed.Data.Exploration;
using LlavaMed.Data.Synthetic;
using LlavaMed.Images;
using LlavaMed.Text;
using LlavaMed.Views;
using Microsoft.Data.Analysis;

namespace LlavaMed.Tests.Data.Exploration;

public sealed class DatasetViewsTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("llava-explore-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static VqaRadQuestion Question(long qid, string image, string organ, string answer, string type, string question = "Is there a mass?") =>
        new(qid, image, organ, answer, type, "PRES", question, "freeform");

    static readonly VqaRadQuestion[] Train =
    [
        Question(0, "a.jpg", "CHEST", "Yes", "CLOSED"),
        Question(1, "a.jpg", "CHEST", "no ", "CLOSED"),
        Question(2, "b.jpg", "HEAD", "left", "CLOSED", "Which side is the lesion on?"),
        Question(3, "c.jpg", "ABD", "Liver lesion", "OPEN", "What organ is abnormal?"),
        Question(4, "c.jpg", " abd", "yes", "CLOSED"),
    ];

    static string[] Strings(DataFrame frame, string column) => frame.Columns[column].Cast<object?>().Select(v => v?.ToString() ?? "").ToArray();

    static double[] Doubles(DataFrame frame, string column) => frame.Columns[column].Cast<object?>().Select(Convert.ToDouble).ToArray();

    [Fact]
    public void VqaRadTableHasOneRowPerQuestionWithNormalizedOrganAndYesNoFlag()
    {
        var table = DatasetTables.FromVqaRad(Train, "train");

        Assert.Equal(5, table.Rows.Count);
        Assert.Equal(["CHEST", "CHEST", "HEAD", "ABD", "ABD"], Strings(table, DatasetColumns.Domain));
        Assert.Equal(["True", "True", "False", "False", "True"], Strings(table, DatasetColumns.YesNo));
        Assert.Equal([1.0, 1, 1, 2, 1], Doubles(table, DatasetColumns.AnswerWords));
        Assert.Equal([4.0, 4, 6, 4, 4], Doubles(table, DatasetColumns.QuestionWords));
    }

    [Fact]
    public void CountByOrdersByFrequencyThenValueWithShares()
    {
        var counts = DatasetViews.CountBy(DatasetTables.FromVqaRad(Train), DatasetColumns.Domain);

        Assert.Equal(["ABD", "CHEST", "HEAD"], Strings(counts, DatasetColumns.Domain));
        Assert.Equal([2.0, 2, 1], Doubles(counts, DatasetViews.Count));
        Assert.Equal([0.4, 0.4, 0.2], Doubles(counts, DatasetViews.Share));
    }

    [Fact]
    public void QuestionTypesSeparateYesNoFromOtherClosedQuestionsPerSplit()
    {
        var table = DatasetTables.FromVqaRad(Train, "train");
        table.Append(DatasetTables.FromVqaRad([Question(9, "d.jpg", "HEAD", "No", "CLOSED")], "test").Rows, inPlace: true);

        var types = DatasetViews.QuestionTypes(table);

        Assert.Equal(["test", "train", DatasetViews.AllGroups], Strings(types, DatasetColumns.Split));
        Assert.Equal([0.0, 1, 1], Doubles(types, "open"));
        Assert.Equal([1.0, 4, 5], Doubles(types, "closed"));
        Assert.Equal([1.0, 3, 4], Doubles(types, "yes_no"));
        Assert.Equal([0.0, 1, 1], Doubles(types, "closed_other"));
        Assert.Equal([0.0, 0, 0], Doubles(types, "untyped"));
        Assert.Equal([1.0, 5, 6], Doubles(types, DatasetViews.Total));
    }

    [Fact]
    public void TopAnswersCaseFoldAndTrimAndFilterByType()
    {
        var table = DatasetTables.FromVqaRad(Train);

        var all = DatasetViews.TopAnswers(table, top: 2);
        Assert.Equal(["yes", "left"], Strings(all, DatasetColumns.Answer));
        Assert.Equal([2.0, 1], Doubles(all, DatasetViews.Count));
        Assert.Equal([0.4, 0.2], Doubles(all, DatasetViews.Share));

        var open = DatasetViews.TopAnswers(table, answerType: "open");
        Assert.Equal(["liver lesion"], Strings(open, DatasetColumns.Answer));
        Assert.Equal([1.0], Doubles(open, DatasetViews.Share));
        Assert.Equal(4, DatasetViews.AnswerVocabularySize(table));
    }

    [Fact]
    public void LengthStatsInterpolatePercentilesPerGroupAndOverall()
    {
        var table = DatasetTables.FromVqaRad(Train);

        var stats = DatasetViews.LengthStats(table, DatasetColumns.QuestionWords, DatasetColumns.Domain);

        Assert.Equal(["ABD", "CHEST", "HEAD", DatasetViews.AllGroups], Strings(stats, DatasetColumns.Domain));
        Assert.Equal([2.0, 2, 1, 5], Doubles(stats, DatasetViews.Count));
        Assert.Equal([4.0, 4, 6, 4.4], Doubles(stats, "mean").Select(m => Math.Round(m, 9)));
        Assert.Equal([4.0, 4, 6, 4], Doubles(stats, "median"));
        // numpy.percentile([4, 4, 4, 4, 6], 90) = 5.2
        Assert.Equal(5.2, Doubles(stats, "p90")[3], 9);
        Assert.Equal(6.0, Doubles(stats, "max")[3]);
        Assert.Equal(2.5, DatasetViews.Percentile([1, 2, 3, 4], 0.5));
        Assert.True(double.IsNaN(DatasetViews.Percentile([], 0.5)));
    }

    [Fact]
    public void HistogramKeepsEmptyBinsBetweenOccupiedOnes()
    {
        var table = DatasetTables.FromVqaRad(Train);

        var histogram = DatasetViews.Histogram(table, DatasetColumns.QuestionWords, binWidth: 1);

        Assert.Equal(["4", "5", "6"], Strings(histogram, "bin"));
        Assert.Equal([4.0, 0, 1], Doubles(histogram, DatasetViews.Count));
        Assert.Equal(["4-5", "6-7"], Strings(DatasetViews.Histogram(table, DatasetColumns.QuestionWords, 2), "bin"));
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetViews.Histogram(table, DatasetColumns.QuestionWords, 0));
    }

    [Fact]
    public void CrossTabCountsEveryPairWithTotals()
    {
        var table = DatasetTables.FromVqaRad(Train, "train");
        table.Append(DatasetTables.FromVqaRad([Question(9, "d.jpg", "HEAD", "No", "CLOSED")], "test").Rows, inPlace: true);

        var tab = DatasetViews.CrossTab(table, DatasetColumns.Domain, DatasetColumns.Split);

        Assert.Equal([DatasetColumns.Domain, "train", "test", DatasetViews.Total], tab.Columns.Select(c => c.Name));
        Assert.Equal(["ABD", "CHEST", "HEAD"], Strings(tab, DatasetColumns.Domain));
        Assert.Equal([2.0, 2, 1], Doubles(tab, "train"));
        Assert.Equal([0.0, 0, 1], Doubles(tab, "test"));
        Assert.Equal([2.0, 2, 2], Doubles(tab, DatasetViews.Total));
    }

    [Fact]
    public void ConversationTableReadsDomainFlagsAnswerTypesAndTurns()
    {
        JsonObject Domain(bool chest, bool ct) => new() { ["chest_xray"] = chest, ["mri"] = false, ["ct_scan"] = ct, ["histology"] = false, ["gross"] = false };
        LlavaSample[] samples =
        [
            new("1", "1.jpg", [ConversationTurn.Human("<image>\nWhat is shown?"), ConversationTurn.Gpt("A chest X-ray."),
                               ConversationTurn.Human("Any nodule?"), ConversationTurn.Gpt("Yes.")],
                Extra: new JsonObject { ["domain"] = Domain(true, false) }),
            new("2", "2.jpg", [ConversationTurn.Human("Describe.\n<image>"), ConversationTurn.Gpt("CT and X-ray")],
                Extra: new JsonObject { ["domain"] = Domain(true, true) }),
            new("3", null, [ConversationTurn.Human("Text only?")], AnswerType: "closed "),
        ];

        var table = DatasetTables.FromConversations(samples, "instruct");

        Assert.Equal(["chest_xray", "chest_xray+ct_scan", DatasetTables.NoDomain], Strings(table, DatasetColumns.Domain));
        Assert.Equal(["What is shown?", "Describe.", "Text only?"], Strings(table, DatasetColumns.Question));
        Assert.Equal(["A chest X-ray.", "CT and X-ray", ""], Strings(table, DatasetColumns.Answer));
        Assert.Equal(["", "", "CLOSED"], Strings(table, DatasetColumns.AnswerType));
        Assert.Equal([4.0, 2, 1], Doubles(table, DatasetColumns.Turns));
        Assert.Equal(["1.jpg", "2.jpg", ""], Strings(table, DatasetColumns.Image));

        var byImage = DatasetTables.FromConversations(samples, domainOf: s => s.Image is null ? "text" : "figure");
        Assert.Equal(["figure", "figure", "text"], Strings(byImage, DatasetColumns.Domain));
    }

    [Fact]
    public void MissingImagesListsAbsentAndEscapingPathsButNotTextOnlyRows()
    {
        File.WriteAllBytes(Path.Combine(folder, "a.jpg"), [1]);
        LlavaSample[] samples =
        [
            new("present", "a.jpg", [ConversationTurn.Human("q"), ConversationTurn.Gpt("a")]),
            new("absent", "b.jpg", [ConversationTurn.Human("q"), ConversationTurn.Gpt("a")]),
            new("escaping", "../a.jpg", [ConversationTurn.Human("q"), ConversationTurn.Gpt("a")]),
            new("text", null, [ConversationTurn.Human("q"), ConversationTurn.Gpt("a")]),
        ];
        var table = DatasetTables.FromConversations(samples);

        var missing = DatasetViews.MissingImages(table, folder);

        Assert.Equal(["absent", "escaping"], Strings(missing, DatasetColumns.Id));
        Assert.Contains("not found", Strings(missing, "problem")[0]);
        Assert.Contains("leaves the image root", Strings(missing, "problem")[1]);
        var summary = DatasetViews.Summarize(table, "mixed", folder);
        Assert.Equal(new DatasetSummary("mixed", 4, 3, 0, 0, 0, 4, 1, 1, 2), summary);
        Assert.Null(DatasetViews.Summarize(table, "mixed").MissingImages);
        var summaries = DatasetViews.SummaryTable([summary, DatasetViews.Summarize(table, "no root")]);
        Assert.Equal(["2", ""], Strings(summaries, "missing_images"));
        Assert.Equal(["mixed", "no root"], Strings(summaries, "name"));
    }

    [Fact]
    public void SyntheticCorpusViewsAgreeWithItsFindingsAndFindNoMissingImages()
    {
        var corpus = SyntheticCorpus.EnsureGenerated(folder, new SyntheticCorpusOptions(Figures: 20, GeneralScenes: 0, ImageSize: 32)).Layout;
        var findings = corpus.ReadFindings();
        var domains = DatasetTables.DomainsByImage(findings);

        var figures = DatasetTables.FromFindings(findings);
        var alignment = DatasetTables.FromConversations(LlavaMedFiles.ReadConversations(corpus.Alignment), "train", s => domains[s.Image!]);
        var vqa = DatasetTables.FromVqaRadFolder(Path.GetDirectoryName(corpus.VqaTrain)!);
        var captions = DatasetTables.FromFigureCaptions(LlavaMedFiles.ReadFigureCaptions(corpus.InstructFigCaptions));

        Assert.Equal(20, figures.Rows.Count);
        Assert.Equal(Enumerable.Repeat(4.0, 5), Doubles(DatasetViews.CountBy(figures, DatasetColumns.Domain), DatasetViews.Count));
        var trainFigures = findings.Count(f => f.Split == "train");
        Assert.Equal(trainFigures, alignment.Rows.Count);
        Assert.Equal(trainFigures, captions.Rows.Count);
        Assert.Equal(findings.Where(f => f.Split == "train").Select(f => f.Spec.FlagName).Order(),
                     Strings(alignment, DatasetColumns.Domain).Order());
        Assert.Equal(0, DatasetViews.MissingImages(alignment, corpus.Images).Rows.Count);
        Assert.Equal(0, DatasetViews.MissingImages(vqa, corpus.Images).Rows.Count);
        Assert.Equal(VqaRad.Read(corpus.VqaTrain).Count() + VqaRad.Read(corpus.VqaTest).Count(), vqa.Rows.Count);
        Assert.Equal(["test", "train"], Strings(DatasetViews.CountBy(vqa, DatasetColumns.Split), DatasetColumns.Split).Order());
        Assert.Throws<FileNotFoundException>(() => DatasetTables.FromVqaRadFolder(folder));
        var types = DatasetViews.QuestionTypes(vqa);
        Assert.True(Doubles(types, "open")[^1] > 0 && Doubles(types, "yes_no")[^1] > 0);
        Assert.All(Doubles(captions, DatasetColumns.CaptionWords), words => Assert.True(words > 3));
    }

    [Fact]
    public void DataFrameTableShowsHeaderRowsAndHowManyWereLeftOut()
    {
        var counts = DatasetViews.CountBy(DatasetTables.FromVqaRad(Train), DatasetColumns.Domain);

        var html = HtmlView.Table(counts, maxRows: 2).Html;

        Assert.StartsWith("<table><thead><tr><th>domain</th><th>count</th><th>share</th></tr>", html);
        Assert.Contains("<tr><td>ABD</td><td>2</td><td>0.4</td></tr>", html);
        Assert.DoesNotContain("HEAD", html);
        Assert.EndsWith("<p>2 of 3 rows shown</p>", html);
        Assert.DoesNotContain("rows shown", HtmlView.Table(counts).Html);
    }

    [Fact]
    public void ThumbnailShrinksTheLongerSideAndKeepsSmallImages()
    {
        var path = Path.Combine(folder, "wide.png");
        File.WriteAllBytes(path, RgbImage.Filled(400, 100, (200, 10, 10)).EncodePng());

        static RgbImage Embedded(HtmlView view)
        {
            var start = view.Html.IndexOf("base64,", StringComparison.Ordinal) + "base64,".Length;
            return RgbImage.Decode(Convert.FromBase64String(view.Html[start..view.Html.IndexOf('"', start)]));
        }

        var thumbnail = HtmlView.Thumbnail(path, maxSide: 80, caption: "wide");
        Assert.Equal((80, 20), (Embedded(thumbnail).Width, Embedded(thumbnail).Height));
        Assert.Contains("<figcaption>wide</figcaption>", thumbnail.Html);
        Assert.Equal(400, Embedded(HtmlView.Thumbnail(path, maxSide: 1000)).Width);
        File.WriteAllText(Path.Combine(folder, "broken.png"), "not an image");
        Assert.Throws<InvalidDataException>(() => HtmlView.Thumbnail(Path.Combine(folder, "broken.png")));
    }

    [Fact]
    public void GridLaysOutItemsInColumns()
    {
        var html = HtmlView.Grid([new HtmlView("<b>1</b>"), new HtmlView("<i>2</i>")], columns: 3).Html;

        Assert.Contains("repeat(3,", html);
        Assert.Contains("<div><b>1</b></div><div><i>2</i></div>", html);
        Assert.Throws<ArgumentOutOfRangeException>(() => HtmlView.Grid([], columns: 0));
    }
}
