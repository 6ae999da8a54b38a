using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;

namespace LlavaMed.Tests.Notebooks;

/// <summary>Executes every notebooks/*.ipynb with the real dotnet-repl kernel. Executed copies land in
/// artifacts/notebooks/ for inspection.</summary>
public sealed class NotebookTests(NotebookRunner runner) : IClassFixture<NotebookRunner>
{
    private const string QuickstartName = "00-quickstart.ipynb";

    public static TheoryData<string> Notebooks => new(NotebookRunner.NotebookNames());

    [Theory]
    [MemberData(nameof(Notebooks))]
    [Trait("Category", "Slow")]
    public void NotebookRunsWithoutErrors(string notebookName)
    {
        runner.Run(notebookName).AssertSucceeded().AssertLight();
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void QuickstartAsksTheFixtureModelAndShowsPlotlyChartsWithEmbeddedPlotlyJs()
    {
        SharedFixtures.Require("fixtures", "llava-med-v1.5-tiny", "model.safetensors");
        var run = runner.Run(QuickstartName);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("<figcaption>img_300x200.png (300x200)</figcaption>", run.Html);
        Assert.Contains("<figcaption>padded to a square, resized and cropped</figcaption>", run.Html);
        Assert.Contains("<img src=\"data:image/png;base64,", run.Html);
        Assert.Contains("llava_mistral: 2 layers", run.Text);
        Assert.Contains("[INST] <image>\nWhat is shown in this image? [/INST]", run.Text);
        Assert.Contains("<td>-200</td><td>&lt;image&gt;</td>", run.Html);
        // The charts: plotly.js inlined (its banner) and no script loaded from elsewhere (CDN).
        Assert.Contains("plotly.js v2.", run.Html);
        Assert.Contains("Plotly.newPlot", run.Html);
        Assert.Contains("Most likely first answer tokens", run.Html);
        Assert.Contains("normalised red channel of pixel_values 1x3x56x56", run.Html);
        Assert.DoesNotContain("<script src", run.Html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void QuickstartBuildsAndUsesTheDemoCheckpointWithoutSharedFixtures()
    {
        var emptyShared = Directory.CreateTempSubdirectory("llavamed-no-shared-");
        var emptyCache = Directory.CreateTempSubdirectory("llavamed-cache-");
        try
        {
            var run = runner.Run(QuickstartName, "no-shared", new Dictionary<string, string>
            {
                ["LLAVAMED_SHARED"] = emptyShared.FullName, ["LLAVAMED_CACHE"] = emptyCache.FullName,
            });

            run.AssertSucceeded().AssertLight();
            Assert.Contains("the workbench's own demo checkpoint", run.Text);
            Assert.Contains("<figcaption>demo-chest-xray.png (256x256)</figcaption>", run.Html);
            Assert.Contains("Most likely first answer tokens", run.Html);
        }
        finally
        {
            emptyShared.Delete(recursive: true);
            emptyCache.Delete(recursive: true);
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void EvaluationNotebookShowsItsChartsAndAnswerGallery()
    {
        SharedFixtures.Require("datasets", "vqa-rad", "testset.json");
        var run = runner.Run("06-evaluation.ipynb");

        // The values (every system scored, every figure exported) are checked on the kernel's variables in
        // LlavaMed.Interactive.Tests; this run checks what only the published library in dotnet-repl shows.
        run.AssertSucceeded().AssertLight();
        Assert.Contains("llavamed-gallery", run.Html);
        Assert.Contains("Plotly.newPlot", run.Html);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void DataNotebookShowsTheCorpusAndVqaRadViews()
    {
        SharedFixtures.Require("datasets", "vqa-rad", "testset.json");
        var run = runner.Run("01-data.ipynb");

        // The counts are checked on the kernel's variables in LlavaMed.Interactive.Tests; this run checks the views.
        run.AssertSucceeded();
        Assert.Contains("Figures per domain", run.Html);
        Assert.Contains("display:grid", run.Html);
        Assert.Contains("VQA-RAD: most frequent open answers", run.Html);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void DataNotebookSaysWhereItLookedWhenVqaRadIsMissing()
    {
        var emptyShared = Directory.CreateTempSubdirectory("llavamed-no-shared-");
        try
        {
            var run = runner.Run("01-data.ipynb", "no-shared", new Dictionary<string, string> { ["LLAVAMED_SHARED"] = emptyShared.FullName });

            run.AssertSucceeded().AssertLight();
            Assert.Contains($"VQA-RAD not found in {Path.Combine(emptyShared.FullName, "datasets", "vqa-rad")}", run.Text + run.Html);
            Assert.Contains("Figures per domain", run.Html);
        }
        finally
        {
            emptyShared.Delete(recursive: true);
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void SelfInstructNotebookWalksACaptionToALlavaRecord()
    {
        var run = runner.Run("02-self-instruct.ipynb");

        run.AssertSucceeded();
        Assert.Contains("Figure Context:", run.Html);
        Assert.Contains("model: synthetic-caption-v1", run.Text + run.Html);
        Assert.Contains("dropped: refusal", run.Html);
        Assert.Contains("\"from\": \"gpt\"", run.Text + run.Html);
    }
}

/// <summary>Checks of the committed notebook files that run nothing (no kernel, no notebook library build).</summary>
public sealed class CommittedNotebookTests
{
    [Fact]
    public void CommittedNotebooksHaveNoOutputs()
    {
        foreach (var path in NotebookRunner.NotebookPaths())
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
