using System.Diagnostics;
using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;
using LlavaMed.Training;
using LlavaMed.Workbench;

namespace LlavaMed.Curriculum;

/// <summary>Where <see cref="AblationRunner.Run"/> writes, at which scale (default: the grid's), and which variants it
/// runs (default: all).</summary>
public sealed record AblationOptions
{
    public required string OutputDir { get; init; }

    /// <summary>The scale before each variant's changes; default: the one the grid names.</summary>
    public CurriculumScale? Scale { get; init; }

    /// <summary>Names of the variants to run; the others are still reported when a previous run finished them.</summary>
    public IReadOnlyList<string>? Only { get; init; }

    /// <summary>dtype and device of every variant's stages and evaluations (<see cref="CurriculumOptions.Load"/>).</summary>
    public Checkpoints.LoadOptions Load { get; init; } = new();

    /// <summary>Where the generated corpora are cached (default: the workbench cache).</summary>
    public string? CacheFolder { get; init; }
}

/// <summary>A progress record of an ablation grid: the variant it concerns and the curriculum's record (phase
/// "ablation" for the grid's own messages).</summary>
public sealed record AblationProgress(string Variant, TrainingProgress Progress);

/// <summary>The grid's results: one row per finished variant in grid order, the variants not run, and the table
/// files written.</summary>
public sealed record AblationResult(string OutputDir, string ScaleName, int Seed, IReadOnlyList<AblationRow> Rows,
                                    IReadOnlyList<string> NotRun, double WallSeconds)
{
    public string MarkdownPath => Path.Combine(OutputDir, AblationTable.MarkdownFileName);
    public string CsvPath => Path.Combine(OutputDir, AblationTable.CsvFileName);
    public string JsonPath => Path.Combine(OutputDir, AblationTable.JsonFileName);
}

/// <summary>Runs an <see cref="AblationGrid"/>: each variant is a whole curriculum (<see cref="CurriculumRun.RunAll"/>)
/// in <c>{out}/{variant}/</c>. Variants whose starting model is the same (<see cref="StartingModelBuilder.Key"/>:
/// they differ only in stage epochs, instruction data or starting point) share one build in
/// <c>{out}/starting-models/{key}/</c>. A variant already finished with the same settings (its
/// <c>ablation-variant.json</c> matches and its <c>metrics.json</c> is written) is read back instead of rerun, so an
/// interrupted grid resumes where it stopped. Writes <c>ablations.md</c>, <c>ablations.csv</c> and
/// <c>ablations.json</c>.</summary>
public static class AblationRunner
{
    public const string StampFileName = "ablation-variant.json";

    public static AblationResult Run(AblationGrid grid, AblationOptions options, IProgress<AblationProgress>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var baseScale = options.Scale ?? grid.BaseScale;
        grid.Validate(baseScale);
        var selected = grid.VariantsNamed(options.Only).Select(v => v.Name).ToHashSet();
        var output = Path.GetFullPath(options.OutputDir);
        Directory.CreateDirectory(output);
        var rows = new List<AblationRow>();
        var notRun = new List<string>();
        foreach (var variant in grid.Variants)
        {
            void Say(string message) => progress?.Report(new AblationProgress(variant.Name, TrainingProgress.Note("ablation", message)));
            var folder = Path.Combine(output, variant.Name);
            var scale = variant.Apply(baseScale);
            var key = StartingModelBuilder.Key(scale, grid.Seed);
            var stamp = Stamp(variant, scale, grid.Seed, options.Load).ToJsonString();
            if (IsFinished(folder, stamp))
            {
                Say($"reused the finished run in {folder}");
                rows.Add(AblationRow.FromMetrics(variant, scale, ReadMetrics(folder), key.FolderName, reused: true));
                continue;
            }
            if (!selected.Contains(variant.Name))
            {
                notRun.Add(variant.Name);
                continue;
            }
            Say($"{variant.Describe(baseScale)}; starting model {key.FolderName}");
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            Directory.CreateDirectory(folder);
            AtomicFile.WriteText(Path.Combine(folder, StampFileName), stamp);
            var startingModel = Path.Combine(output, AblationGrid.StartingModelsFolder, key.FolderName);
            var result = CurriculumRun.Prepare(new CurriculumOptions
            {
                OutputDir = folder, Seed = grid.Seed, BaseScale = baseScale, Variant = variant,
                StartingModelFolder = startingModel, CacheFolder = options.CacheFolder, Load = options.Load,
            }).RunAll(new InlineProgress<TrainingProgress>(p => progress?.Report(new AblationProgress(variant.Name, p))));
            File.WriteAllText(Path.Combine(startingModel, "key.txt"), key.Settings + "\n");
            rows.Add(AblationRow.FromMetrics(variant, scale, CurriculumReport.Metrics(result), key.FolderName, reused: false));
        }
        var ablation = new AblationResult(output, baseScale.Name, grid.Seed, rows, notRun, clock.Elapsed.TotalSeconds);
        AblationTable.Write(ablation);
        foreach (var name in notRun) progress?.Report(new AblationProgress(name, TrainingProgress.Note("ablation", "not run (not in --only) and not finished before")));
        progress?.Report(new AblationProgress("", TrainingProgress.Note("ablation", $"wrote {ablation.MarkdownPath}, {ablation.CsvPath} and {ablation.JsonPath}")));
        return ablation;
    }

    /// <summary>What a finished variant folder must have been run with to be reused: the variant, the whole scale it
    /// ran at (the record's printed members: every setting, the corpus's included), the seed, the dtype and device
    /// its stages trained in, and the code version.</summary>
    public static JsonObject Stamp(CurriculumVariant variant, CurriculumScale scale, int seed, Checkpoints.LoadOptions? load = null) => new()
    {
        ["variant"] = AblationGrid.VariantToJson(variant),
        ["scale"] = scale.ToString(),
        ["seed"] = seed,
        ["dtype"] = Models.PlacementPlanner.Name((load ?? new Checkpoints.LoadOptions()).Dtype),
        ["device"] = Models.PlacementPlanner.DeviceName((load ?? new Checkpoints.LoadOptions()).Device ?? TorchSharp.torch.CPU),
        ["code_version"] = CodeVersion.Current,
    };

    static bool IsFinished(string folder, string stamp)
    {
        var stampPath = Path.Combine(folder, StampFileName);
        return File.Exists(Path.Combine(folder, "metrics.json")) && File.Exists(stampPath) && File.ReadAllText(stampPath) == stamp;
    }

    static JsonObject ReadMetrics(string folder) => JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json")))!.AsObject();

}
