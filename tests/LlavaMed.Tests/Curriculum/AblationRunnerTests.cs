using System.Text.Json.Nodes;
using LlavaMed.Curriculum;
using LlavaMed.Data.Synthetic;
using LlavaMed.Workbench;

namespace LlavaMed.Tests.Curriculum;

public sealed class AblationRunnerTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-ablate-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    /// <summary>The quick scale made smaller still: the grid's code path, not the numbers, is under test.</summary>
    internal static readonly CurriculumScale Tiny = CurriculumScale.QuickRun with
    {
        Name = "tiny", Corpus = new SyntheticCorpusOptions(Figures: 25, GeneralScenes: 10, ChatEvalFigures: 2), VisionEpochs = 1,
        VqaTestQuestions = 12, CaptionFigures = 2, ChatQuestions = 3,
    };

    static bool Trained(List<AblationProgress> log, string variant) => log.Any(r => r.Variant == variant && r.Progress.IsTrainingStep);
    static bool Built(List<AblationProgress> log, string variant) => log.Any(r => r.Variant == variant && r.Progress.Phase == "vision");

    [Fact]
    [Trait("Category", "Slow")]
    public void TwoVariantsShareOneStartingModelAndARerunReusesTheFinishedVariants()
    {
        var grid = AblationGrid.Parse("""
            { "scale": "quick", "seed": 4, "variants": [
                { "name": "default" },
                { "name": "from-bare-lm", "label": "from the bare LM, caption-only", "start": "bare-lm" } ] }
            """, "grid.json");
        var options = new AblationOptions { OutputDir = Path.Combine(temporary, "out"), Scale = Tiny, CacheFolder = Path.Combine(temporary, "cache") };

        var log = new List<AblationProgress>();
        var result = AblationRunner.Run(grid, options, new InlineProgress<AblationProgress>(log.Add));

        // One build for both: the bare start is the build's pretrained checkpoint, reused by the second variant.
        var startingModel = Assert.Single(Directory.GetDirectories(Path.Combine(options.OutputDir, AblationGrid.StartingModelsFolder)));
        Assert.True(Built(log, "default"));
        Assert.False(Built(log, "from-bare-lm"));
        Assert.Contains(log, r => r.Variant == "from-bare-lm" && r.Progress.Phase == "starting-model" && r.Progress.Event!.Contains(startingModel));
        string InitFrom(string variant) =>
            JsonNode.Parse(File.ReadAllText(Path.Combine(options.OutputDir, variant, "stage1-alignment", "meta.json")))!["init_from"]!.GetValue<string>();
        Assert.Equal(Path.Combine(startingModel, "model"), InitFrom("default"));
        Assert.Equal(Path.Combine(startingModel, "pretrained"), InitFrom("from-bare-lm"));
        Assert.Contains("ablation variant 'from-bare-lm': start: bare language model", File.ReadAllText(Path.Combine(options.OutputDir, "from-bare-lm", "report.md")));
        Assert.Equal(StartingModelBuilder.Key(Tiny, 4).Settings + "\n", File.ReadAllText(Path.Combine(startingModel, "key.txt")));

        // The table.
        Assert.Equal(["default", "from-bare-lm"], result.Rows.Select(r => r.Variant.Name));
        Assert.All(result.Rows, r => Assert.False(r.Reused));
        Assert.Equal(["general model (from LLaVA)", "bare language model (from Vicuna)"], result.Rows.Select(r => r.Settings.Start));
        foreach (var row in result.Rows)
        {
            Assert.InRange(row.Scores.ClosedAccuracy!.Value, 0, 1);
            Assert.InRange(row.Scores.StrictOpenExactMatch!.Value, 0, 1);
            Assert.NotNull(row.Scores.ChatF1);
            Assert.NotNull(row.Scores.CaptionF1);
            Assert.True(row.Scores.TrainSeconds > 0);
        }
        var csv = File.ReadAllLines(result.CsvPath);
        Assert.Equal(3, csv.Length);
        Assert.StartsWith("variant,label,stage1_epochs,instruction_data,", csv[0]);
        Assert.StartsWith("from-bare-lm,\"from the bare LM, caption-only\",1,captions,1,56,mlp2x_gelu,bare language model (from Vicuna),", csv[2]);
        Assert.Contains("| from-bare-lm | from the bare LM, caption-only | 1 | captions |", File.ReadAllText(result.MarkdownPath));
        var read = AblationTable.Read(result.JsonPath);
        Assert.Equal(result.Rows.Select(r => (r.Variant, r.Settings, r.Scores.ClosedAccuracy)), read.Rows.Select(r => (r.Variant, r.Settings, r.Scores.ClosedAccuracy)));

        // A rerun reads the finished variants back instead of training them again.
        var again = new List<AblationProgress>();
        var rerun = AblationRunner.Run(grid, options, new InlineProgress<AblationProgress>(again.Add));
        Assert.All(rerun.Rows, r => Assert.True(r.Reused));
        Assert.False(Trained(again, "default") || Trained(again, "from-bare-lm"));
        Assert.Equal(result.Rows.Select(r => r.Scores with { TrainSeconds = 0 }), rerun.Rows.Select(r => r.Scores with { TrainSeconds = 0 }));

        // A changed variant is run again; a variant left out by Only and never finished is listed as not run.
        var changed = AblationGrid.Parse("""
            { "scale": "quick", "seed": 4, "variants": [
                { "name": "default" },
                { "name": "from-bare-lm", "label": "from the bare LM, caption-only", "start": "bare-lm", "stage1_epochs": 0 },
                { "name": "linear", "projector": "linear" } ] }
            """, "grid.json");
        var third = new List<AblationProgress>();
        var partial = AblationRunner.Run(changed, options with { Only = ["from-bare-lm"] }, new InlineProgress<AblationProgress>(third.Add));
        Assert.True(Trained(third, "from-bare-lm"));
        Assert.False(Trained(third, "default"));
        Assert.Equal([true, false], partial.Rows.Select(r => r.Reused));
        Assert.Equal(0, partial.Rows[1].Settings.Stage1Epochs);
        Assert.Equal(["linear"], partial.NotRun);
        Assert.Contains("Not run yet: linear.", File.ReadAllText(partial.MarkdownPath));
    }
}

public sealed class AblationTableTests
{
    static JsonObject Metrics(bool withAlignment) => JsonNode.Parse($$$"""
        {
          "stages": [
            {{{(withAlignment ? """{"name": "alignment", "captions": {"token_f1": 0.4}, "chat": {"token_f1": 0.1}, "train_seconds": 1.5},""" : "")}}}
            {"name": "instruction", "captions": {"token_f1": 0.2}, "chat": {"token_f1": 0.6}, "train_seconds": 2},
            {"name": "downstream", "vqa": {"llava-med-v1": {"closed_accuracy": 0.9, "open_recall": null},
                                           "strict": {"closed_accuracy": 0.8, "open_exact_match": 0.5}},
             "chat": {"token_f1": 0.3}, "train_seconds": 3}
          ],
          "starting_model": {"name": "general", "captions": {"token_f1": 0.05}}
        }
        """)!.AsObject();

    [Fact]
    public void ScoresComeFromTheRightStages()
    {
        var scores = AblationScores.FromMetrics(Metrics(withAlignment: true));

        Assert.Equal(new AblationScores(0.9, null, 0.8, 0.5, 0.6, 0.4, 6.5), scores);
        Assert.Equal(scores, AblationScores.FromJson(scores.ToJson()));
        // Stage 1 skipped: the caption score is the starting model's, the model stage 2 starts from.
        Assert.Equal(0.05, AblationScores.FromMetrics(Metrics(withAlignment: false)).CaptionF1);
    }

    [Fact]
    public void CellsShowMissingScoresAsDashesAndChartsLeaveThemOut()
    {
        var variant = new CurriculumVariant { Name = "linear", ProjectorType = "linear" };
        var row = AblationRow.FromMetrics(variant, variant.Apply(CurriculumScale.QuickRun), Metrics(true), "px56", reused: false);
        var baseline = AblationRow.FromMetrics(CurriculumVariant.Default, CurriculumScale.QuickRun, Metrics(true), "px56", reused: true);

        var cells = AblationTable.Cells(row);
        Assert.Equal(AblationTable.Headers.Count, cells.Count);
        Assert.Equal(["linear", "linear", "1", "captions", "1", "56", "linear", "general model (from LLaVA)", "0.900", "-", "0.800", "0.500", "0.600", "0.400", "7"], cells);

        var charts = AblationTable.ByAxis([baseline, row]);
        var (axis, chart) = Assert.Single(charts);
        Assert.Equal(CurriculumVariant.ProjectorAxis, axis);
        Assert.DoesNotContain("open recall (v1)", chart.Html);
        Assert.Contains("closed acc (strict)", chart.Html);
    }
}
