namespace LlavaMed.Tests.Notebooks;

/// <summary>Runs notebook 07 (the paper grid at its quick scale) and then notebook 09 on what 07 left in the same
/// cache, as a user would; in the stage notebooks' collection, since both train or read models.</summary>
[Collection(nameof(StageNotebookTests))]
public sealed class AblationNotebookTests(NotebookRunner runner, StageNotebookCache cache)
    : IClassFixture<NotebookRunner>, IClassFixture<StageNotebookCache>
{
    NotebookRun Run(string name) => runner.Run(name, "ablations", cache.Environment).AssertSucceeded().AssertLight();

    // The values (every variant trained as its axis says, every score, the tables and figures 09 reads from the grid)
    // are checked on the kernel's variables in LlavaMed.Interactive.Tests (InProcessAblationNotebookTests); these runs
    // check what the published library shows in dotnet-repl.

    [Fact]
    [Trait("Category", "Slow")]
    public void AblationNotebookShowsTheGridItsTableAndAChartPerAxis()
    {
        var run = Run("07-ablations.ipynb");

        Assert.Contains(Path.Combine("notebooks", "ablations-quick-0"), run.Text);
        Assert.Contains("<th>variant</th><th>label</th><th>changes</th>", run.Html);
        Assert.Contains("<th>closed acc (v1)</th><th>open recall (v1)</th>", run.Html);
        foreach (var axis in new[] { "stage-1 epochs", "instruction data", "resolution", "projector", "starting point" })
            Assert.Contains($"Ablation: {axis}", run.Html);
        Assert.Contains("Plotly.newPlot", run.Html);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void PaperFiguresNotebookShowsItsTablesAndFigures()
    {
        Run("07-ablations.ipynb");
        var run = Run("09-paper-figures.ipynb");

        Assert.Contains("<th>kind</th><th>run</th><th>folder</th>", run.Html);
        Assert.Contains("<th>VQA-RAD open</th><th>VQA-RAD closed</th><th>SLAKE open</th>", run.Html);
        Assert.Contains("<th>chat F1 (stage 2)</th>", run.Html);
        Assert.Contains("<img src=\"data:image/png;base64,", run.Html);
        Assert.Contains("Plotly.newPlot", run.Html);
    }
}
