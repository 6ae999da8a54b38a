using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Evaluation;
using LlavaMed.Evaluation.Judge;
using LlavaMed.Plotting;

namespace LlavaMed.Curriculum;

/// <summary>A curriculum run folder (its <c>metrics.json</c>), named by its path under the folder it was found in, with
/// its ablation variant when it belongs to a grid (its <c>ablation-variant.json</c>).</summary>
public sealed record CurriculumRunInfo(string Name, string Folder, JsonObject Metrics, CurriculumVariant? Variant = null)
{
    /// <summary>Stage 3's data ("synthetic", "vqa-rad"; metrics.json's <c>vqa_set</c>); null for runs written before
    /// metrics.json recorded it.</summary>
    public string? VqaDataset => Metrics["vqa_set"]?.GetValue<string>();

    /// <summary>The method a table row stands for: the curriculum at its scale and seed, and the ablation variant when
    /// the run belongs to a grid. Runs of one method on different data sets share a row.</summary>
    public string Method
    {
        get
        {
            var method = $"LLaVA-Med curriculum ({Metrics["scale"]?.GetValue<string>() ?? "?"} scale, seed {Metrics["seed"]?.ToJsonString() ?? "?"})";
            return Variant is { } variant ? $"{method}, ablation '{variant.DisplayLabel}'" : method;
        }
    }

    /// <summary>A short name for chart legends: the ablation variant's label, or the run's folder.</summary>
    public string ShortName => Variant?.DisplayLabel ?? Name;

    public JsonObject? Stage(string name) =>
        Metrics["stages"]?.AsArray().Select(s => s!.AsObject()).FirstOrDefault(s => s["name"]?.GetValue<string>() == name);
}

/// <summary>An <c>llava-med eval chat --output</c> file: the judge's relative scores per category.</summary>
public sealed record ChatReviewFile(string Name, string Path, IReadOnlyList<RelativeScoreRow> Summary);

/// <summary>What <see cref="Find"/> met under the given folders: curriculum runs (<c>metrics.json</c>), ablation grids
/// (<c>ablations.json</c>), GPT-judge reviews (<c>eval-chat*.json</c>, as written by <c>llava-med eval chat --output</c>),
/// and a note for every file that could not be read (left out of the tables, never guessed at).</summary>
public sealed record PaperRuns(IReadOnlyList<CurriculumRunInfo> Curricula, IReadOnlyList<AblationResult> Ablations,
                               IReadOnlyList<ChatReviewFile> ChatReviews, IReadOnlyList<string> Notes)
{
    /// <summary>Looks up to <paramref name="depth"/> folders deep under each root (missing roots are skipped).</summary>
    public static PaperRuns Find(IEnumerable<string> roots, int depth = 3)
    {
        var curricula = new List<CurriculumRunInfo>();
        var ablations = new List<AblationResult>();
        var reviews = new List<ChatReviewFile>();
        var notes = new List<string>();
        foreach (var root in roots.Select(Path.GetFullPath).Distinct().Where(Directory.Exists))
        {
            var files = Directory.EnumerateFiles(root, "*.json", new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = depth, IgnoreInaccessible = true })
                .Where(f => Path.GetFileName(f) is "metrics.json" or AblationTable.JsonFileName || Path.GetFileName(f).StartsWith("eval-chat", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal);
            foreach (var file in files)
            {
                var name = Path.GetRelativePath(root, Path.GetDirectoryName(file)!);
                try
                {
                    switch (Path.GetFileName(file))
                    {
                        case "metrics.json":
                            var metrics = JsonNode.Parse(File.ReadAllText(file))?.AsObject();
                            var stamp = Path.Combine(Path.GetDirectoryName(file)!, AblationRunner.StampFileName);
                            var variant = File.Exists(stamp) ? AblationGrid.VariantFromJson(JsonNode.Parse(File.ReadAllText(stamp))?["variant"], stamp, "variant") : null;
                            if (metrics?["stages"] is JsonArray) curricula.Add(new CurriculumRunInfo(name, Path.GetDirectoryName(file)!, metrics, variant));
                            break;
                        case AblationTable.JsonFileName:
                            ablations.Add(AblationTable.Read(file));
                            break;
                        default:
                            reviews.Add(new ChatReviewFile(Path.Combine(name, Path.GetFileName(file)), file, ReadSummary(file)));
                            break;
                    }
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // A file that cannot be read (another program's metrics.json, a truncated copy) is reported, not fatal.
                    notes.Add($"{file}: left out ({e.Message})");
                }
            }
        }
        return new PaperRuns(curricula, ablations, reviews, notes);
    }

    static IReadOnlyList<RelativeScoreRow> ReadSummary(string path)
    {
        var summary = JsonNode.Parse(File.ReadAllText(path))?["summary"] as JsonArray
                      ?? throw new InvalidOperationException("no \"summary\" array (not an `llava-med eval chat --output` file)");
        return summary.Select(r => new RelativeScoreRow(r!["category"]!.GetValue<string>(), r["data_size"]!.GetValue<int>(),
            r["gpt4_score"]!.GetValue<double>(), r["pred_score"]!.GetValue<double>(), r["pred_relative_score"]!.GetValue<double>(),
            r["ratio_of_means"]!.GetValue<double>())).ToList();
    }
}

/// <summary>A table for a paper: a title, headers, rows of cells ("-" where no run measured it) and a note on what the
/// numbers are.</summary>
public sealed record PaperTable(string Title, IReadOnlyList<string> Headers, IReadOnlyList<IReadOnlyList<string>> Rows, string Note)
{
    /// <summary>The rows to show: a row of dashes when no run filled the table, so its layout still shows.</summary>
    public IReadOnlyList<IReadOnlyList<string>> DisplayRows => Rows.Count > 0 ? Rows : [Headers.Select(_ => "-").ToList()];

    public string ToMarkdown()
    {
        var md = new StringBuilder($"## {Title}\n\n{Note}\n\n");
        md.AppendLine("| " + string.Join(" | ", Headers) + " |").AppendLine("|" + string.Concat(Headers.Select(_ => "---|")));
        foreach (var row in DisplayRows) md.AppendLine("| " + string.Join(" | ", row.Select(c => c.Replace("|", "\\|"))) + " |");
        return md.AppendLine().ToString();
    }
}

/// <summary>The layouts of LLaVA-Med's result tables, filled from runs: the VQA table (rows: methods; columns: VQA-RAD,
/// SLAKE and PathVQA, open and closed, and the workbench's synthetic set), the chat table (the GPT judge's relative
/// scores by question type and domain, or a token-F1 proxy where no judge ran, labelled as such) and the ablation
/// tables, with charts of the same numbers. A cell no run measured is "-": nothing is copied from the paper or
/// estimated.</summary>
public static class PaperTables
{
    /// <summary>The data sets of the VQA table: (metrics.json's <c>vqa_set</c>, column title).</summary>
    public static readonly IReadOnlyList<(string Key, string Title)> VqaDatasets =
        [("vqa-rad", "VQA-RAD"), ("slake", "SLAKE"), ("pathvqa", "PathVQA"), ("synthetic", "synthetic")];

    /// <summary>The chat table's columns in the paper's order: (<see cref="RelativeScores"/> category, title).</summary>
    public static readonly IReadOnlyList<(string Category, string Title)> ChatColumns =
    [
        ("conversation", "Conversation"), ("detailed_description", "Description"), ("chest_xray", "CXR"), ("mri", "MRI"),
        ("histology", "Histology"), ("gross", "Gross"), ("ct_scan", "CT"), ("overall", "Overall"),
    ];

    /// <summary>(open, closed) of a stage's VQA report: <c>llava-med-v1</c> open recall and closed accuracy (the paper's
    /// metrics; closed by v1.0.0's run_eval.py rule, null for a report written before that rule was the default) or
    /// <c>strict</c> open exact match and closed accuracy.</summary>
    public static (double? Open, double? Closed) OpenClosed(JsonObject? stage, string metricSet)
    {
        var vqa = stage?["vqa"]?[metricSet];
        static double? Value(JsonNode? node) => node is JsonValue value && value.TryGetValue<double>(out var number) ? number : null;
        return metricSet == StrictMetrics.Name
            ? (Value(vqa?["open_exact_match"]), Value(vqa?["closed_accuracy"]))
            : (Value(vqa?["open_recall"]), LlavaMedV1Scores.StoredClosedAccuracy(vqa));
    }

    static string Percent(double? value) => value is { } v ? (v * 100).ToString("0.00", CultureInfo.InvariantCulture) : "-";

    /// <summary>One row per method (<see cref="CurriculumRunInfo.Method"/>), scored after stage 3; runs whose data set
    /// is not recorded, and llava-med-v1 closed cells written with the pre-fix rule, are left out and named in
    /// <paramref name="notes"/>.</summary>
    public static PaperTable Vqa(PaperRuns runs, string metricSet = "llava-med-v1", ICollection<string>? notes = null)
    {
        var rows = VqaRows(runs, metricSet, notes).Select(row => (IReadOnlyList<string>)[row.Method,
            .. VqaDatasets.SelectMany(d => row.Cells.TryGetValue(d.Key, out var cell) ? new[] { Percent(cell.Open), Percent(cell.Closed) } : ["-", "-"])]).ToList();
        var (open, closed) = metricSet == StrictMetrics.Name
            ? ("open: exact match", "closed: accuracy")
            : ("open: recall", "closed: `closed_accuracy`, run_eval.py's rule at v1.0.0; numbers published before that fix may follow "
               + $"the pre-fix rule, `{LlavaMedV1Scores.PreFixClosedAccuracyKey}` in metrics.json");
        return new PaperTable("VQA (the paper's layout: methods by data set, open and closed)",
            ["method", .. VqaDatasets.SelectMany(d => new[] { $"{d.Title} open", $"{d.Title} closed" })], rows,
            $"Percent after stage 3, metric set `{metricSet}` ({open}; {closed}). `-`: no run on that data set. SLAKE and PathVQA columns fill "
            + "in from runs fine-tuned on them; the synthetic column is the workbench's embedded corpus, not a paper data set.");
    }

    /// <summary>A row of the VQA table: the method, a short name for legends, and (open, closed) per data set key.</summary>
    sealed record VqaRow(string Method, string ShortName, Dictionary<string, (double? Open, double? Closed)> Cells);

    static List<VqaRow> VqaRows(PaperRuns runs, string metricSet, ICollection<string>? notes)
    {
        var rows = new List<VqaRow>();
        foreach (var run in runs.Curricula)
        {
            if (run.VqaDataset is not { } dataset)
            {
                notes?.Add($"{run.Folder}: left out of the VQA table (its metrics.json does not record the VQA data set; rerun to record it)");
                continue;
            }
            // Runs of one method on different data sets share a row; a second run on the same data gets its own.
            var row = rows.FirstOrDefault(r => r.Method == run.Method && !r.Cells.ContainsKey(dataset));
            if (row is null)
            {
                var duplicate = rows.Any(r => r.Method == run.Method);
                rows.Add(row = new VqaRow(duplicate ? $"{run.Method} [{run.Name}]" : run.Method, duplicate ? run.Name : run.ShortName, []));
            }
            var downstream = run.Stage("downstream");
            row.Cells[dataset] = OpenClosed(downstream, metricSet);
            if (metricSet == LlavaMedV1Metrics.Name && downstream?["vqa"]?[metricSet]?["closed_accuracy"] is not null && row.Cells[dataset].Closed is null)
                notes?.Add($"{run.Folder}: closed cell left out (its metrics.json has the pre-fix closed accuracy of LLaVA-Med commit bdd4809; rerun for v1.0.0's)");
        }
        return rows;
    }

    /// <summary>One chart per data set that has runs (named by its key): open and closed, a bar per method (named
    /// shortly: the ablation variant's label or the run's folder).</summary>
    public static IReadOnlyList<(string Dataset, Chart Chart)> VqaCharts(PaperRuns runs, string metricSet = "llava-med-v1")
    {
        var rows = VqaRows(runs, metricSet, notes: null);
        return VqaDatasets
            .Select(d => (d.Key, d.Title, series: rows.Where(r => r.Cells.TryGetValue(d.Key, out var c) && c.Open is not null && c.Closed is not null)
                .Select(r => new BarSeries(r.ShortName, [r.Cells[d.Key].Open!.Value * 100, r.Cells[d.Key].Closed!.Value * 100])).ToList()))
            .Where(x => x.series.Count > 0)
            .Select(x => (x.Key, Charts.GroupedBars(["open", "closed"], x.series, $"{x.Title}: VQA after stage 3 ({metricSet})", yTitle: "percent")))
            .ToList();
    }

    /// <summary>The judge's relative scores (percent of the reference answers' score) from every review file, and for
    /// each run without a review file in its folder, the token-F1 proxy: the stage-2 (instruction-tuned) model's chat
    /// answers against the reference answers, overall only, labelled as a proxy.</summary>
    public static PaperTable Chat(PaperRuns runs)
    {
        const string Judged = "GPT-judge relative score (%)", Proxy = "token F1 x 100 (proxy, not judged)";
        var rows = new List<IReadOnlyList<string>>();
        foreach (var review in runs.ChatReviews)
            rows.Add([review.Name, Judged, .. ChatColumns.Select(c => review.Summary.FirstOrDefault(r => r.Category == c.Category) is { } row
                ? row.RelativeScore.ToString("0.0", CultureInfo.InvariantCulture) : "-")]);
        var reviewed = runs.ChatReviews.Select(r => Path.GetDirectoryName(r.Path)).ToHashSet();
        foreach (var run in runs.Curricula.Where(r => !reviewed.Contains(r.Folder)))
        {
            var f1 = run.Stage("instruction")?["chat"]?["token_f1"] is JsonValue v && v.TryGetValue<double>(out var x) ? x : (double?)null;
            rows.Add([run.Name, Proxy, .. ChatColumns.Select(c => c.Category == "overall" && f1 is { } f ? (f * 100).ToString("0.0", CultureInfo.InvariantCulture) : "-")]);
        }
        return new PaperTable("Chat (the paper's layout: relative score by question type and domain)", ["run", "measure", .. ChatColumns.Select(c => c.Title)], rows,
            "Rows measured by the GPT judge (`llava-med eval chat --output {run}/eval-chat.json`) give the relative score by question type "
            + "and domain. Rows marked proxy are NOT judged: the token F1 of the stage-2 model's answers against the reference answers, "
            + "overall only, on the workbench's qa50-style set; it is not comparable with the paper's relative scores.");
    }

    /// <summary>Bars of the judged relative scores (categories every judged row has) and, separately, of the proxy.</summary>
    public static IReadOnlyList<(string Name, Chart Chart)> ChatCharts(PaperRuns runs)
    {
        var charts = new List<(string, Chart)>();
        if (runs.ChatReviews.Count > 0)
        {
            var categories = ChatColumns.Where(c => runs.ChatReviews.All(r => r.Summary.Any(s => s.Category == c.Category))).ToList();
            if (categories.Count > 0)
                charts.Add(("chat-judged", Charts.GroupedBars(categories.Select(c => c.Title),
                    runs.ChatReviews.Select(r => new BarSeries(r.Name, categories.Select(c => r.Summary.First(s => s.Category == c.Category).RelativeScore).ToArray())),
                    "Chat: GPT-judge relative score", yTitle: "percent of the reference")));
        }
        var reviewed = runs.ChatReviews.Select(r => Path.GetDirectoryName(r.Path)).ToHashSet();
        var proxy = runs.Curricula.Where(r => !reviewed.Contains(r.Folder))
            .Select(r => (Name: r.ShortName, F1: r.Stage("instruction")?["chat"]?["token_f1"] is JsonValue v && v.TryGetValue<double>(out var x) ? x : (double?)null))
            .Where(p => p.F1 is not null).ToList();
        if (proxy.Count > 0)
            charts.Add(("chat-token-f1-proxy", Charts.Bar(proxy.Select(p => p.Name), proxy.Select(p => p.F1!.Value * 100),
                "Chat: token F1 of the stage-2 model (proxy, not judged)", yTitle: "token F1 x 100")));
        return charts;
    }

    /// <summary>One table per ablation grid found, as <see cref="AblationTable"/> writes it.</summary>
    public static IReadOnlyList<PaperTable> Ablations(PaperRuns runs) =>
        runs.Ablations.Select(a => new PaperTable($"Ablations: {a.OutputDir} ({a.ScaleName} scale, seed {a.Seed})", AblationTable.Headers,
            a.Rows.Select(AblationTable.Cells).ToList(),
            "VQA after stage 3 on the synthetic test split (`v1`: the paper's metric set); chat F1 after stage 2 (token F1, not judged); "
            + "caption F1 after stage 1 (of the starting model when stage 1 is skipped).")).ToList();
}
