using LlavaMed.Curriculum;
using LlavaMed.Data.Synthetic;
using LlavaMed.Training;

namespace LlavaMed.Tests.Notebooks;

/// <summary>One cache folder for the three stage notebooks of a test run, so that 04 and 05 reuse what 03 (or
/// whichever ran first) built, as they do for a user; a notebook that runs first builds its prerequisites itself.</summary>
public sealed class StageNotebookCache : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("llavamed-stage-notebooks-").FullName;

    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["LLAVAMED_CACHE"] = Folder };

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

/// <summary>The stage notebooks train models: run alone, so that the notebook runs of <see cref="NotebookTests"/>
/// (in parallel test classes) do not share the CPU with them and push them past the runner's timeout.</summary>
[CollectionDefinition(nameof(StageNotebookTests), DisableParallelization = true)]
public sealed class StageNotebookCollection;

/// <summary>Runs notebooks 03-05 (one curriculum stage each) at their quick scale and checks what they show.</summary>
[Collection(nameof(StageNotebookTests))]
public sealed class StageNotebookTests(NotebookRunner runner, StageNotebookCache cache)
    : IClassFixture<NotebookRunner>, IClassFixture<StageNotebookCache>
{
    NotebookRun Run(string name)
    {
        var run = runner.Run(name, "stages", cache.Environment).AssertSucceeded().AssertLight();
        Assert.Contains(Path.Combine("notebooks", "curriculum-quick-0"), run.Text);
        Assert.Contains("Plotly.newPlot", run.Html);
        return run;
    }

    // The values behind these views (the stage of the presets, its chain, a finite loss per step, every held-out figure
    // and question scored) are checked on the kernel's variables in LlavaMed.Interactive.Tests
    // (InProcessStageNotebookTests); these runs check what the published library shows in dotnet-repl.

    [Fact]
    [Trait("Category", "Slow")]
    public void Stage1NotebookShowsItsSettingsLossChartAndCaptionGallery()
    {
        var run = Run("03-stage1-alignment.ipynb");

        Assert.Contains("Stage 1 (alignment): training loss", run.Html);
        Assert.Contains("<th>setting</th><th>value</th>", run.Html);
        Assert.Contains("<th>generated caption</th>", run.Html);
        Assert.Contains("<img src=\"data:image/png;base64,", run.Html);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Stage2NotebookShowsItsLossChartAndTheBeforeAndAfterTables()
    {
        var run = Run("04-stage2-instruction.ipynb");

        Assert.Contains("Stage 2 (instruction): training loss", run.Html);
        Assert.Contains("<td>before (stage 1)</td>", run.Html);
        Assert.Contains("<th>after (stage 2)</th>", run.Html);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Stage3NotebookShowsItsLossChartMetricTableAndAnswerGallery()
    {
        var run = Run("05-stage3-vqa.ipynb");

        Assert.Contains("Stage 3 (downstream): training loss", run.Html);
        Assert.Contains("<th>metric set</th><th>metric</th><th>value</th>", run.Html);
        Assert.Contains("<th>stage 3 answer</th>", run.Html);
        Assert.Contains("<img src=\"data:image/png;base64,", run.Html);
    }
}

public sealed class StageNotebookLibraryTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llavamed-workspace-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    [Fact]
    public void LossCurvesKeepOneCurvePerPhaseAndIgnoreMessages()
    {
        var curves = new LossCurves();

        static TrainingProgress Step(string phase, int step, int total, double loss) =>
            new(phase, 0, step, total, loss, 1e-3, 1, TimeSpan.Zero, TimeSpan.Zero);
        Assert.False(curves.Add(TrainingProgress.Note("alignment", "saved")));
        Assert.True(curves.Add(Step("alignment", 1, 2, 3.5)));
        Assert.True(curves.Add(Step("alignment", 2, 2, 2.5)));
        Assert.True(curves.Add(Step("instruction", 1, 1, 4.0)));

        Assert.Equal(3, curves.Steps);
        Assert.Equal(["alignment", "instruction"], curves.Series.Select(s => s.Name));
        Assert.Equal([3.5, 2.5], curves.Series[0].Y);
        Assert.Equal([0.0, 1.0], curves.Series[0].X);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void PrepareChainsTheStagesAndWritesTheirData()
    {
        var scale = CurriculumScale.Notebook with { Name = "tiny", Corpus = new SyntheticCorpusOptions(Figures: 25, GeneralScenes: 10, ChatEvalFigures: 2) };
        var output = Path.Combine(temporary, "run");

        var run = CurriculumRun.Prepare(new CurriculumOptions { OutputDir = output, BaseScale = scale, Seed = 3, CacheFolder = Path.Combine(temporary, "cache") });

        Assert.Equal(PaperStages.Names, run.Stages.Select(s => s.Name));
        Assert.Equal(run.StartModel, run.Stage("alignment").InitFrom);
        Assert.Equal(Path.Combine(run.OutputDir, "starting-model", "model"), run.StartModel);
        Assert.Equal(run.Stage("alignment").OutputDir, run.Stage("instruction").InitFrom);
        Assert.Equal(run.Stage("instruction").OutputDir, run.Stage("downstream").InitFrom);
        Assert.All(run.Stages, s => Assert.Equal((8, 1, 3), (s.BatchSize, s.GradientAccumulation, s.Seed)));
        Assert.Equal(TrainableSet.Projector, run.Stage("alignment").Trainable);
        Assert.All(run.Stages, s => Assert.True(File.Exists(s.DataPath), s.DataPath));
        Assert.Equal(12, run.Evaluation.VqaTest.Count);
        Assert.NotEmpty(run.Evaluation.Captions);
        Assert.NotEmpty(run.Evaluation.Chat);
        Assert.False(CurriculumRun.HasModel(run.StartModel));
        Assert.Throws<ArgumentException>(() => run.Stage("pretraining"));

        var rows = StageSummary.Rows(run.Stage("alignment"));
        Assert.Contains(rows, r => r[0] == "template" && r[1] == "plain");
        Assert.Contains(rows, r => r[0] == "init from" && r[1] == run.StartModel);
    }
}
