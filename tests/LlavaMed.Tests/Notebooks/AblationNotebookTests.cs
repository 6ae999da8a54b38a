namespace LlavaMed.Tests.Notebooks;

/// <summary>Runs notebook 07 (the paper grid at its quick scale) and then notebook 09 on what 07 left in the same
/// cache, as a user would; in the stage notebooks' collection, since both train or read models.</summary>
[Collection(nameof(StageNotebookTests))]
public sealed class AblationNotebookTests(NotebookRunner runner, StageNotebookCache cache)
    : IClassFixture<NotebookRunner>, IClassFixture<StageNotebookCache>
{
    NotebookRun Run(string name) => runner.Run(name, "ablations", cache.Environment).AssertSucceeded().AssertLight();

    [Fact]
    [Trait("Category", "Slow")]
    public void AblationNotebookRunsThePaperGridAndPlotsEachAxis()
    {
        var run = Run("07-ablations.ipynb");

        Assert.Contains(Path.Combine("notebooks", "ablations-quick-0"), run.Text);
        Assert.Contains("9 variants run and 0 reused", run.Text);
        Assert.Contains("<td>from-bare-lm</td><td>from the bare LM (from Vicuna)</td><td>start: bare language model (from Vicuna)", run.Html);
        Assert.Contains("<th>closed acc (v1)</th><th>open recall (v1)</th>", run.Html);
        Assert.Contains("<td>resolution-1.5x</td><td>resolution 1.5x</td><td>1</td><td>captions</td><td>1</td><td>84</td>", run.Html);
        foreach (var axis in new[] { "stage-1 epochs", "instruction data", "resolution", "projector", "starting point" })
            Assert.Contains($"Ablation: {axis}", run.Html);
        Assert.Contains("Plotly.newPlot", run.Html);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void PaperFiguresNotebookFillsTheTablesFromTheGridAndExportsFigures()
    {
        Run("07-ablations.ipynb");
        var run = Run("09-paper-figures.ipynb");
        var everything = run.Html + run.Text;

        Assert.Contains("<th>VQA-RAD open</th><th>VQA-RAD closed</th><th>SLAKE open</th>", run.Html);
        Assert.Contains("<td>LLaVA-Med curriculum (quick scale, seed 0), ablation &#39;from the bare LM (from Vicuna)&#39;</td><td>-</td><td>-</td>", run.Html);
        Assert.Contains("<td>token F1 x 100 (proxy, not judged)</td>", run.Html);
        Assert.Contains("<th>chat F1 (stage 2)</th>", run.Html);
        foreach (var file in new[] { "vqa-synthetic.png", "vqa-synthetic.svg", "chat-token-f1-proxy.svg", "ablations-1.png", "paper-tables.md" })
            Assert.Contains($"<td>{file}</td>", run.Html);
        Assert.Contains("<img src=\"data:image/png;base64,", run.Html);
        Assert.Contains("every file found was read", everything);
    }
}
