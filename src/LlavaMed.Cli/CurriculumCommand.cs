using System.CommandLine;
using System.Globalization;
using LlavaMed.Curriculum;
using LlavaMed.Models;
using LlavaMed.Training;
using LlavaMed.Workbench;

namespace LlavaMed.Cli;

/// <summary><c>llava-med curriculum</c>: the whole LLaVA-Med curriculum on the built-in synthetic corpus, from a
/// general starting model through stages 1-3, with an evaluation after each and a report.</summary>
public static class CurriculumCommand
{
    public static Command Create()
    {
        var output = new Option<string?>("--out") { Description = "output folder (default: runs/curriculum-<seed>)" };
        var seed = new Option<int>("--seed") { Description = "seed of the corpus, the starting model and every stage", DefaultValueFactory = _ => 0 };
        var quick = new Option<bool>("--quick") { Description = "a shortened run (small corpus and model, one epoch each) on the same code path, for CI" };
        var vqa = new Option<string>("--vqa") { Description = "stage-3 data: synthetic (built-in) or vqa-rad (needs --vqa-root)", DefaultValueFactory = _ => "synthetic" };
        var vqaRoot = new Option<string?>("--vqa-root") { Description = "VQA-RAD folder (trainset.json, testset.json, images/) for --vqa vqa-rad" };
        var command = new Command("curriculum", "Run the LLaVA-Med curriculum (starting model, stages 1-3, evaluation, report) on the built-in corpus")
        {
            output, seed, quick, vqa, vqaRoot,
        };
        var placement = new PlacementCliOptions();
        placement.AddTo(command);
        command.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            var root = parse.GetValue(vqa) switch
            {
                "synthetic" => null,
                "vqa-rad" => parse.GetValue(vqaRoot) ?? throw new ArgumentException("--vqa vqa-rad needs --vqa-root (the VQA-RAD folder)"),
                var other => throw new ArgumentException($"--vqa must be synthetic or vqa-rad, not '{other}'"),
            };
            var options = new CurriculumOptions
            {
                OutputDir = parse.GetValue(output) ?? Path.Combine("runs", $"curriculum-{parse.GetValue(seed)}"),
                Seed = parse.GetValue(seed), Quick = parse.GetValue(quick), VqaRoot = root,
            };
            var scale = options.Scale;
            options = options with
            {
                Load = PlacementCliOptions.LoadOptions(placement.Resolve(parse,
                    new TrainingNeed(scale.ModelConfig(scale.VocabularySize), new MemoryPlanSettings()), null, Workload.Training, stdout)),
            };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = CurriculumRun.Prepare(options).RunAll(new InlineProgress<TrainingProgress>(p =>
            {
                if (ProgressLine(clock.Elapsed, p) is { } line) stdout.WriteLine(line);
            }));
            var final = result.Stages[^1].Evaluation;
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"done in {result.WallSeconds:F0} s (peak working set {result.PeakWorkingSetBytes / (1024 * 1024)} MB): after stage 3 closed accuracy "
                + $"{final.ClosedAccuracy:F3} (llava-med-v1) / {final.StrictClosedAccuracy:F3} (strict), open recall {final.OpenRecall:F3}; report {result.ReportHtmlPath}"));
            return 0;
        }));
        return command;
    }

    /// <summary>A progress record as a terminal line: every message, and about five loss lines per phase (null for
    /// the steps in between). <paramref name="run"/> names the run when several share the output (ablations).</summary>
    internal static string? ProgressLine(TimeSpan elapsed, TrainingProgress p, string run = "") =>
        !p.IsTrainingStep ? $"{elapsed:mm\\:ss} {run}[{p.Phase}] {p.Event}"
        : p.Step == p.TotalSteps || p.Step % Math.Max(1, p.TotalSteps / 5) == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{elapsed:mm\\:ss} {run}[{p.Phase}] step {p.Step}/{p.TotalSteps} loss {p.Loss:F4}")
            : null;
}
