using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;
using LlavaMed.Data;
using LlavaMed.Plotting;
using LlavaMed.Workbench;

namespace LlavaMed.Curriculum;

/// <summary>What a variant ran with, resolved against the scale: stage-1 epochs, instruction data, image and patch
/// size, projector and starting point.</summary>
public sealed record AblationSettings(int Stage1Epochs, string InstructionData, double InstructionFraction, int ImageSize, int PatchSize,
                                      string Projector, string Start)
{
    public static AblationSettings Of(CurriculumVariant variant, CurriculumScale scale) =>
        new(scale.AlignmentEpochs, variant.InstructionData, variant.InstructionFraction, scale.ImageSize, scale.PatchSize,
            scale.ProjectorType, variant.StartDescription);

    public JsonObject ToJson() => new()
    {
        ["stage1_epochs"] = Stage1Epochs, ["instruction_data"] = InstructionData, ["instruction_fraction"] = InstructionFraction,
        ["image_size"] = ImageSize, ["patch_size"] = PatchSize, ["projector"] = Projector, ["start"] = Start,
    };

    public static AblationSettings FromJson(JsonObject json) => new(
        json["stage1_epochs"]!.GetValue<int>(), json["instruction_data"]!.GetValue<string>(), json["instruction_fraction"]!.GetValue<double>(),
        json["image_size"]!.GetValue<int>(), json["patch_size"]!.GetValue<int>(), json["projector"]!.GetValue<string>(), json["start"]!.GetValue<string>());
}

/// <summary>A variant's scores, read from its <c>metrics.json</c>: after stage 3, VQA closed accuracy and open recall
/// (<c>llava-med-v1</c>, the paper's numbers) and strict closed accuracy and open exact match; chat token F1 after
/// stage 2 (the instruction-tuned chat model, as the paper judges it); caption token F1 after stage 1 (the starting
/// model's when stage 1 was skipped: the model stage 2 starts from); and the training seconds of the stages. A score
/// the run did not produce is null.</summary>
public sealed record AblationScores(double? ClosedAccuracy, double? OpenRecall, double? StrictClosedAccuracy, double? StrictOpenExactMatch,
                                    double? ChatF1, double? CaptionF1, double TrainSeconds)
{
    public static AblationScores FromMetrics(JsonObject metrics)
    {
        var stages = metrics["stages"]?.AsArray().Select(s => s!.AsObject()).ToList() ?? [];
        JsonObject? Stage(string name) => stages.FirstOrDefault(s => s["name"]?.GetValue<string>() == name);
        static double? Value(JsonNode? node) => node is JsonValue value && value.TryGetValue<double>(out var number) ? number : null;
        var downstream = Stage("downstream");
        var afterStage1 = Stage("alignment") ?? metrics["starting_model"]?.AsObject();
        return new AblationScores(
            Value(downstream?["vqa"]?["llava-med-v1"]?["closed_accuracy"]), Value(downstream?["vqa"]?["llava-med-v1"]?["open_recall"]),
            Value(downstream?["vqa"]?["strict"]?["closed_accuracy"]), Value(downstream?["vqa"]?["strict"]?["open_exact_match"]),
            Value(Stage("instruction")?["chat"]?["token_f1"]), Value(afterStage1?["captions"]?["token_f1"]),
            stages.Sum(s => Value(s["train_seconds"]) ?? 0));
    }

    public JsonObject ToJson() => new()
    {
        ["closed_accuracy"] = ClosedAccuracy, ["open_recall"] = OpenRecall, ["strict_closed_accuracy"] = StrictClosedAccuracy,
        ["strict_open_exact_match"] = StrictOpenExactMatch, ["chat_f1_stage2"] = ChatF1, ["caption_f1_stage1"] = CaptionF1,
        ["train_seconds"] = Math.Round(TrainSeconds, 1),
    };

    public static AblationScores FromJson(JsonObject json)
    {
        double? Value(string key) => json[key] is JsonValue value ? value.GetValue<double>() : null;
        return new AblationScores(Value("closed_accuracy"), Value("open_recall"), Value("strict_closed_accuracy"),
                                  Value("strict_open_exact_match"), Value("chat_f1_stage2"), Value("caption_f1_stage1"), Value("train_seconds") ?? 0);
    }
}

/// <summary>One row of the ablation table: the variant, its resolved settings, its scores, the starting model it
/// used and whether it was read back from an earlier run.</summary>
public sealed record AblationRow(CurriculumVariant Variant, AblationSettings Settings, AblationScores Scores, string StartingModel, bool Reused)
{
    public static AblationRow FromMetrics(CurriculumVariant variant, CurriculumScale scale, JsonObject metrics, string startingModel, bool reused) =>
        new(variant, AblationSettings.Of(variant, scale), AblationScores.FromMetrics(metrics), startingModel, reused);
}

/// <summary>The ablation table as <c>ablations.md</c>, <c>ablations.csv</c> and <c>ablations.json</c>, the rows as
/// table cells for notebooks, and <see cref="Read"/> to load <c>ablations.json</c> back.</summary>
public static class AblationTable
{
    public const string MarkdownFileName = "ablations.md", CsvFileName = "ablations.csv", JsonFileName = "ablations.json";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The metric columns: (header, CSV name, value).</summary>
    public static readonly IReadOnlyList<(string Header, string CsvName, Func<AblationScores, double?> Value)> Metrics =
    [
        ("closed acc (v1)", "closed_accuracy_v1", s => s.ClosedAccuracy),
        ("open recall (v1)", "open_recall_v1", s => s.OpenRecall),
        ("closed acc (strict)", "closed_accuracy_strict", s => s.StrictClosedAccuracy),
        ("open EM (strict)", "open_exact_match_strict", s => s.StrictOpenExactMatch),
        ("chat F1 (stage 2)", "chat_f1_stage2", s => s.ChatF1),
        ("caption F1 (stage 1)", "caption_f1_stage1", s => s.CaptionF1),
    ];

    static readonly (string Header, string CsvName, Func<AblationRow, string> Cell)[] SettingColumns =
    [
        ("variant", "variant", r => r.Variant.Name),
        ("label", "label", r => r.Variant.DisplayLabel),
        ("stage-1 epochs", "stage1_epochs", r => Invariant(r.Settings.Stage1Epochs)),
        ("instruction data", "instruction_data", r => r.Settings.InstructionData),
        ("instruction share", "instruction_fraction", r => r.Settings.InstructionFraction.ToString("0.###", CultureInfo.InvariantCulture)),
        ("image px", "image_size", r => Invariant(r.Settings.ImageSize)),
        ("projector", "projector", r => r.Settings.Projector),
        ("start", "start", r => r.Settings.Start),
    ];

    public static IReadOnlyList<string> Headers =>
        [.. SettingColumns.Select(c => c.Header), .. Metrics.Select(m => m.Header), "train s"];

    /// <summary>A row's cells under <see cref="Headers"/>: scores with three decimals, "-" where the run has none.</summary>
    public static IReadOnlyList<string> Cells(AblationRow row) =>
        [.. SettingColumns.Select(c => c.Cell(row)), .. Metrics.Select(m => Format(m.Value(row.Scores))), row.Scores.TrainSeconds.ToString("0", CultureInfo.InvariantCulture)];

    public static string Format(double? value) => value is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) : "-";

    static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    public static void Write(AblationResult result)
    {
        AtomicFile.WriteText(result.MarkdownPath, Markdown(result));
        AtomicFile.WriteText(result.CsvPath, Csv(result.Rows));
        AtomicFile.WriteText(result.JsonPath, Json(result).ToJsonString(Indented) + "\n");
    }

    public static string Markdown(AblationResult result)
    {
        var md = new StringBuilder();
        md.AppendLine("# Curriculum ablations").AppendLine();
        md.AppendLine(
            $"Scale `{result.ScaleName}`, seed {result.Seed}. VQA scores after stage 3 on the synthetic test split; `v1` is LLaVA-Med's own "
            + "metric set (the paper's numbers), `strict` the exact-match one. Chat F1: token F1 of the stage-2 model's answers to the "
            + "qa50-style questions (a proxy, not GPT-judged). Caption F1: after stage 1, or of the starting model when stage 1 is skipped.");
        md.AppendLine().AppendLine("| " + string.Join(" | ", Headers) + " |");
        md.AppendLine("|" + string.Concat(Headers.Select(_ => "---|")));
        foreach (var row in result.Rows) md.AppendLine("| " + string.Join(" | ", Cells(row).Select(c => c.Replace("|", "\\|"))) + " |");
        if (result.NotRun.Count > 0) md.AppendLine().AppendLine($"Not run yet: {string.Join(", ", result.NotRun)}.");
        return md.ToString();
    }

    public static string Csv(IReadOnlyList<AblationRow> rows)
    {
        static string Quote(string cell) => cell.IndexOfAny([',', '"', '\n']) >= 0 ? $"\"{cell.Replace("\"", "\"\"")}\"" : cell;
        var csv = new StringBuilder();
        csv.AppendLine(string.Join(",", (string[])[.. SettingColumns.Select(c => c.CsvName), .. Metrics.Select(m => m.CsvName), "train_seconds", "starting_model", "reused"]));
        foreach (var row in rows)
            csv.AppendLine(string.Join(",", (string[])[
                .. SettingColumns.Select(c => Quote(c.Cell(row))),
                .. Metrics.Select(m => m.Value(row.Scores)?.ToString("0.####", CultureInfo.InvariantCulture) ?? ""),
                row.Scores.TrainSeconds.ToString("0.#", CultureInfo.InvariantCulture), row.StartingModel, row.Reused ? "true" : "false",
            ]));
        return csv.ToString();
    }

    public static JsonObject Json(AblationResult result) => new()
    {
        ["scale"] = result.ScaleName,
        ["seed"] = result.Seed,
        ["variants"] = new JsonArray(result.Rows.Select(r => (JsonNode)new JsonObject
        {
            ["name"] = r.Variant.Name,
            ["label"] = r.Variant.DisplayLabel,
            ["overrides"] = AblationGrid.VariantToJson(r.Variant),
            ["axes"] = new JsonArray(r.Variant.Axes.Select(a => (JsonNode)a).ToArray()),
            ["settings"] = r.Settings.ToJson(),
            ["scores"] = r.Scores.ToJson(),
            ["starting_model"] = r.StartingModel,
            ["reused"] = r.Reused,
        }).ToArray()),
        ["not_run"] = new JsonArray(result.NotRun.Select(n => (JsonNode)n).ToArray()),
        ["wall_seconds"] = Math.Round(result.WallSeconds, 1),
    };

    /// <summary>Reads an <c>ablations.json</c> back (for figures made from finished grids).</summary>
    public static AblationResult Read(string path)
    {
        var json = JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new DataFormatException(path, "top level", "not a JSON object");
        var rows = json["variants"]!.AsArray().Select((node, i) => new AblationRow(
            AblationGrid.VariantFromJson(node!["overrides"], path, $"variants[{i}].overrides"),
            AblationSettings.FromJson(node["settings"]!.AsObject()), AblationScores.FromJson(node["scores"]!.AsObject()),
            node["starting_model"]!.GetValue<string>(), node["reused"]!.GetValue<bool>())).ToList();
        return new AblationResult(Path.GetDirectoryName(Path.GetFullPath(path))!, json["scale"]!.GetValue<string>(), json["seed"]!.GetValue<int>(), rows,
                                  json["not_run"]!.AsArray().Select(n => n!.GetValue<string>()).ToList(), json["wall_seconds"]!.GetValue<double>());
    }

    /// <summary>The metrics every row has a score for: a chart leaves out a metric rather than draw a missing score.</summary>
    static List<(string Header, string CsvName, Func<AblationScores, double?> Value)> Charted(IEnumerable<AblationRow> rows) =>
        Metrics.Where(m => rows.All(r => m.Value(r.Scores) is not null)).ToList();

    /// <summary>Every variant's scores side by side: a group of bars per variant, a bar per metric.</summary>
    public static Chart Overview(IReadOnlyList<AblationRow> rows, string title = "Curriculum ablations") =>
        Charts.GroupedBars(rows.Select(r => r.Variant.DisplayLabel),
                           Charted(rows).Select(m => new BarSeries(m.Header, rows.Select(r => m.Value(r.Scores)!.Value).ToArray())),
                           title, yTitle: "score");

    /// <summary>One chart per ablation axis that the rows vary (in <see cref="CurriculumVariant.AllAxes"/> order): the
    /// default curriculum (when among the rows) and the variants that change only that axis, a group of bars per
    /// metric. Variants that change several axes appear in none.</summary>
    public static IReadOnlyList<(string Axis, Chart Chart)> ByAxis(IReadOnlyList<AblationRow> rows)
    {
        var baseline = rows.Where(r => r.Variant.Axes.Count == 0).Take(1).ToList();
        return CurriculumVariant.AllAxes
            .Select(axis => (axis, members: baseline.Concat(rows.Where(r => r.Variant.Axes.Count == 1 && r.Variant.Axes[0] == axis)).ToList()))
            .Where(x => x.members.Count > baseline.Count)
            .Select(x => (x.axis, metrics: Charted(x.members), x.members))
            .Select(x => (x.axis, Charts.GroupedBars(x.metrics.Select(m => m.Header),
                x.members.Select(r => new BarSeries(r.Variant.DisplayLabel, x.metrics.Select(m => m.Value(r.Scores)!.Value).ToArray())),
                $"Ablation: {x.axis}", yTitle: "score")))
            .ToList();
    }
}
