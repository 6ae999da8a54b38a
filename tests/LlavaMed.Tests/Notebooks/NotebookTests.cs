using System.Text.Json.Nodes;

namespace LlavaMed.Tests.Notebooks;

/// <summary>Executes every notebooks/*.ipynb with the real dotnet-repl kernel. Executed copies land in
/// artifacts/notebooks/ for inspection.</summary>
public sealed class NotebookTests(NotebookRunner runner) : IClassFixture<NotebookRunner>
{
    private const string QuickstartName = "00-quickstart.ipynb";

    public static TheoryData<string> Notebooks => new(NotebookRunner.NotebookNames());

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void NotebookRunsWithoutErrors(string notebookName)
    {
        var run = runner.Run(notebookName);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.True(run.Errors.Count == 0, run.Describe());
    }

    [Fact]
    public void QuickstartShowsTheFixtureImageAndAPlotlyChartWithEmbeddedPlotlyJs()
    {
        SharedFixtures.Require("fixtures", "image-preprocess", "img_300x200.png");
        var run = runner.Run(QuickstartName);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("<figcaption>img_300x200.png</figcaption>", run.Html);
        Assert.Contains("<img src=\"data:image/png;base64,", run.Html);
        // The chart: plotly.js inlined (its banner) and no script loaded from elsewhere (CDN).
        Assert.Contains("plotly.js v2.", run.Html);
        Assert.Contains("Plotly.newPlot", run.Html);
        Assert.Contains("Top-4 class probabilities", run.Html);
        Assert.DoesNotContain("<script src", run.Html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void QuickstartFallsBackToAGeneratedImageWithoutSharedFixtures()
    {
        var emptyShared = Directory.CreateTempSubdirectory("llavamed-no-shared-");
        try
        {
            var run = runner.Run(QuickstartName, "no-shared",
                                 new Dictionary<string, string> { ["LLAVAMED_SHARED"] = emptyShared.FullName });

            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Contains("generated sample (shared fixtures not found)", run.Html);
        }
        finally
        {
            emptyShared.Delete(recursive: true);
        }
    }

    [Fact]
    public void CommittedNotebooksHaveNoOutputs()
    {
        foreach (var path in Directory.EnumerateFiles(runner.NotebooksFolder, "*.ipynb"))
        {
            var notebook = JsonNode.Parse(File.ReadAllText(path))!;
            foreach (var cell in notebook["cells"]!.AsArray().Where(cell => (string?)cell!["cell_type"] == "code"))
            {
                var firstLine = cell!["source"] is JsonArray lines ? (string?)lines.FirstOrDefault() : (string?)cell["source"];
                var where = $"{Path.GetFileName(path)}, cell starting \"{firstLine?.TrimEnd()}\"";
                Assert.True(cell["outputs"]!.AsArray().Count == 0,
                            $"{where} has outputs; run `dotnet run environment/StripNotebooks.cs`");
                Assert.True(cell["execution_count"] is null, $"{where} has an execution count; strip it");
            }
        }
    }
}
