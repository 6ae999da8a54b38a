using System.CommandLine;
using LlavaMed.Curriculum;
using LlavaMed.Models;
using LlavaMed.Training;
using LlavaMed.Workbench;

namespace LlavaMed.Cli;

/// <summary><c>llava-med ablate</c>: a grid of curriculum variants (the paper's ablations) on the built-in corpus, one
/// results table.</summary>
public static class AblateCommand
{
    public static Command Create()
    {
        var grid = new Option<string>("--grid") { Description = "grid file (JSON: scale, seed, variants; see data/ablations/paper-grid.json)", Required = true };
        var output = new Option<string?>("--out") { Description = "output folder (default: runs/ablate-<grid name>-<scale>)" };
        var quick = new Option<bool>("--quick") { Description = "run every variant at the quick scale (CI-sized), whatever the grid says" };
        var only = new Option<string[]>("--only")
        {
            Description = "run only these variants (the table still lists variants finished before)", AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("ablate", "Run a grid of curriculum variants (stage-1 epochs, instruction data, resolution, projector, start) and write one results table")
        {
            grid, output, quick, only,
        };
        var placement = new PlacementCliOptions();
        placement.AddTo(command);
        command.SetAction(parse => CliErrors.Run(parse, (stdout, _) =>
        {
            var gridPath = parse.GetValue(grid)!;
            var ablationGrid = AblationGrid.Load(gridPath);
            var scale = parse.GetValue(quick) ? CurriculumScale.QuickRun : ablationGrid.BaseScale;
            var options = new AblationOptions
            {
                OutputDir = parse.GetValue(output) ?? Path.Combine("runs", $"ablate-{Path.GetFileNameWithoutExtension(gridPath)}-{scale.Name}"),
                Scale = scale, Only = parse.GetValue(only),
                Load = PlacementCliOptions.LoadOptions(placement.Resolve(parse,
                    new TrainingNeed(scale.ModelConfig(scale.VocabularySize), new MemoryPlanSettings()), null, Workload.Training, stdout)),
            };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = AblationRunner.Run(ablationGrid, options, new InlineProgress<AblationProgress>(p =>
            {
                if (CurriculumCommand.ProgressLine(clock.Elapsed, p.Progress, p.Variant.Length > 0 ? $"{p.Variant} " : "") is { } line) stdout.WriteLine(line);
            }));
            stdout.WriteLine();
            stdout.Write(AblationTable.Markdown(result));
            stdout.WriteLine($"done in {result.WallSeconds:F0} s: {result.Rows.Count(r => !r.Reused)} variants run, {result.Rows.Count(r => r.Reused)} reused; "
                             + $"tables {result.MarkdownPath}, {result.CsvPath}, {result.JsonPath}");
            return 0;
        }));
        return command;
    }
}
