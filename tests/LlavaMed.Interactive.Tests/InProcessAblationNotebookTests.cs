using LlavaMed.Curriculum;
using LlavaMed.Plotting;

namespace LlavaMed.Interactive.Tests;

/// <summary>Notebook 07 (the paper's ablation grid at its quick scale) and then notebook 09 on what 07 wrote, in a
/// kernel in the test process: the values behind their tables and charts. The dotnet-repl runs in LlavaMed.Tests check
/// the rendering.</summary>
public sealed class InProcessAblationNotebookTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public async Task AblationGridTrainsEveryVariantAsItsAxisSaysAndThePaperFiguresReadIt()
    {
        var folder = Directory.CreateTempSubdirectory("llavamed-ablation-notebooks-in-process-");
        try
        {
            var grid = Path.Combine(folder.FullName, "grid");
            AblationResult result;
            using (var ablations = await InProcessNotebook.RunAsync("07-ablations.ipynb", new Dictionary<string, string> { ["outputDir"] = $"@\"{grid}\"" }))
            {
                Assert.Same(CurriculumScale.NotebookGrid, ablations.Variable<CurriculumScale>("baseScale"));
                var variants = ablations.Variable<AblationGrid>("grid").Variants;
                result = ablations.Variable<AblationResult>("result");
                Assert.Empty(result.NotRun);
                Assert.Equal(variants.Select(v => v.Name), result.Rows.Select(r => r.Variant.Name));
                Assert.All(result.Rows, row =>
                {
                    Assert.False(row.Reused, row.Variant.Name);
                    // Each variant changes what its axis says, and only that, from the base scale.
                    Assert.Equal(AblationSettings.Of(row.Variant, row.Variant.Apply(CurriculumScale.NotebookGrid)), row.Settings);
                    foreach (var score in new[] { row.Scores.ClosedAccuracy, row.Scores.OpenRecall, row.Scores.StrictClosedAccuracy })
                        Assert.InRange(score!.Value, 0, 1);
                });
                Assert.Equal(result.Rows.SelectMany(r => r.Variant.Axes).Distinct().Order(), AblationTable.ByAxis(result.Rows).Select(a => a.Axis).Order());
                Assert.True(File.Exists(result.JsonPath));
            }

            var figures = Path.Combine(folder.FullName, "figures");
            using var paper = await InProcessNotebook.RunAsync("09-paper-figures.ipynb", new Dictionary<string, string>
            {
                ["runRoots"] = $"[@\"{folder.FullName}\"]", ["figuresFolder"] = $"@\"{figures}\"",
            });
            var runs = paper.Variable<PaperRuns>("runs");
            var found = Assert.Single(runs.Ablations);
            Assert.Equal(result.Rows.Count, found.Rows.Count);
            Assert.Equal(result.Rows.Count, Assert.Single(paper.Variable<IReadOnlyList<PaperTable>>("ablationTables")).Rows.Count);
            foreach (var (name, _) in paper.Variable<List<(string Name, Chart Chart)>>("figures"))
                Assert.All(new[] { ".png", ".svg" }, extension => Assert.True(File.Exists(Path.Combine(figures, name + extension)), name + extension));
            Assert.True(File.Exists(Path.Combine(figures, "paper-tables.md")));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
