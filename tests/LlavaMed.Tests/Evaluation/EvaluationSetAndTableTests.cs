using LlavaMed.Data.Synthetic;
using LlavaMed.Evaluation;
using static LlavaMed.Tests.Evaluation.ReportTestData;

namespace LlavaMed.Tests.Evaluation;

public class EvaluationSetAndTableTests
{
    [Fact]
    public void VqaRadSliceIsEvenlySpacedWithOrganAndQuestionTypeGroups()
    {
        var folder = Path.GetDirectoryName(SharedFixtures.Require("datasets", "vqa-rad", "testset.json"))!;
        var full = VqaEvaluationSet.FromVqaRad(folder);
        var slice = VqaEvaluationSet.FromVqaRad(folder, testQuestions: 30);

        Assert.Equal((3064, 451), (full.Train.Count, full.Test.Count));
        Assert.Equal(30, slice.Test.Count);
        Assert.Equal(full.Test[0].Id, slice.Test[0].Id);
        Assert.Equal(full.Test[15 * 451 / 30].Id, slice.Test[15].Id);
        Assert.All(slice.Test, q => Assert.True(File.Exists(Path.Combine(slice.ImageRoot, q.Image!))));
        var organs = slice.Test.Select(slice.GroupOf(VqaEvaluationSet.Organ)).Distinct().ToList();
        Assert.Contains("CHEST", organs);
        Assert.Contains("HEAD", organs);
        Assert.DoesNotContain(null, slice.Test.Select(slice.GroupOf(VqaEvaluationSet.QuestionType)));
        Assert.Throws<ArgumentException>(() => slice.GroupOf(VqaEvaluationSet.Domain));
    }

    [Fact]
    public void SyntheticCorpusSetGroupsByDomainToo()
    {
        var cache = Directory.CreateTempSubdirectory("llavamed-evalset-").FullName;
        try
        {
            var layout = SyntheticCorpus.EnsureGenerated(cache, new SyntheticCorpusOptions(Seed: 2, Figures: 40, GeneralScenes: 0, ImageSize: 32)).Layout;
            var set = VqaEvaluationSet.FromSyntheticCorpus(layout, testQuestions: 12);

            Assert.Equal(12, set.Test.Count);
            Assert.NotEmpty(set.Train);
            var domains = set.Test.Select(set.GroupOf(VqaEvaluationSet.Domain)).ToList();
            Assert.DoesNotContain(null, domains);
            Assert.True(domains.Distinct().Count() > 1, string.Join(", ", domains));
            Assert.All(set.Test, q => Assert.True(File.Exists(Path.Combine(set.ImageRoot, q.Image!))));
            // The whole machinery on it: baselines scored by the evaluator and broken down by domain.
            var majority = VqaBaselines.MajorityAnswer(set.Train, set.Test);
            var comparison = ScoreBreakdown.Compare(VqaEvaluationSet.Domain, set.Test,
                [new ScoredSystem("majority", majority), new ScoredSystem("question-only", VqaBaselines.QuestionOnly(set.Train, set.Test))],
                set.GroupOf(VqaEvaluationSet.Domain));
            Assert.Equal(12, comparison.Questions.Sum());
            Assert.Equal(["majority", "question-only"], comparison.Systems);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public void EvenlySpacedKeepsOrderAndCopesWithMoreThanThereAre()
    {
        Assert.Equal([0, 3, 6], VqaEvaluationSet.EvenlySpaced([0, 1, 2, 3, 4, 5, 6, 7, 8], 3));
        Assert.Equal([0, 1], VqaEvaluationSet.EvenlySpaced([0, 1], 5));
    }

    [Fact]
    public void ReportTableHasEveryMetricOfBothSetsWithAColumnPerSystem()
    {
        var test = new[] { Question("1", "Is it?", "yes", "CLOSED"), Question("2", "What?", "brain", "OPEN") };
        var good = VqaEvaluation.Evaluate(test, [Answer("1", "yes"), Answer("2", "brain")]);
        var bad = VqaEvaluation.Evaluate(test, [Answer("1", "no"), Answer("2", "liver")], VqaMetricSets.Strict);
        var rows = VqaReportTable.Rows([good, bad]);

        var strictOverall = Assert.Single(rows, r => r is { MetricSet: "strict", Metric: "overall_accuracy" });
        Assert.Equal([1.0, 0.0], strictOverall.Values);
        var v1Closed = Assert.Single(rows, r => r is { MetricSet: "llava-med-v1", Metric: "closed_accuracy" });
        Assert.Equal([1.0, null], v1Closed.Values);
        Assert.True(Assert.Single(rows, r => r is { MetricSet: "strict", Metric: "n_open" }).IsCount);

        var html = VqaReportTable.Html(["model", "baseline"], [good, bad]).Html;
        Assert.Contains("<th>model</th><th>baseline</th>", html);
        Assert.Contains("<td>strict</td><td>overall_accuracy</td><td>100.0</td><td>0.0</td>", html);
        Assert.Contains("<td>llava-med-v1</td><td>closed_accuracy</td><td>100.0</td><td>-</td>", html);
        Assert.Contains("<td>strict</td><td>n_open</td><td>1</td><td>1</td>", html);
    }

    [Fact]
    public void ComparisonChartAndTableShowEverySystemPerGroup()
    {
        var test = new[] { Question("1", "Is it?", "yes", "CLOSED"), Question("2", "What?", "brain", "OPEN"), Question("3", "Is it?", "no", "CLOSED") };
        var comparison = ScoreBreakdown.Compare("answer type", test,
            [new ScoredSystem("model", [Answer("1", "yes"), Answer("2", "liver"), Answer("3", "yes")]),
             new ScoredSystem("majority", [Answer("1", "no"), Answer("2", "brain"), Answer("3", "no")])],
            s => s.AnswerType);

        Assert.Equal(["CLOSED", "OPEN"], comparison.Groups);
        Assert.Equal((0.5, 0.0, 0.5, 1.0), (comparison.StrictAccuracy(0, 0), comparison.StrictAccuracy(0, 1),
                                            comparison.StrictAccuracy(1, 0), comparison.StrictAccuracy(1, 1)));
        var chart = comparison.AccuracyChart();
        Assert.Contains("CLOSED (n=2)", chart.Html);
        Assert.Contains("\"name\":\"majority\"", chart.Html);
        Assert.Contains("<td>OPEN</td><td>1</td><td>0.0</td><td>0.0</td><td>100.0</td><td>100.0</td>", comparison.Table().Html);
    }
}
