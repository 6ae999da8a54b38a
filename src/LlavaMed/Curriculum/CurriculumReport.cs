using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;
using LlavaMed.Evaluation;
using LlavaMed.Plotting;
using LlavaMed.Training;
using LlavaMed.Workbench;

namespace LlavaMed.Curriculum;

/// <summary>Writes a run's <c>metrics.json</c>, <c>report.md</c> (images copied beside it) and a self-contained
/// <c>report.html</c> (plotly embedded by <see cref="Charts"/>, images as base64).</summary>
public static class CurriculumReport
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void Write(CurriculumResult result)
    {
        AtomicFile.WriteText(result.MetricsPath, Metrics(result).ToJsonString(Indented) + "\n");
        AtomicFile.WriteText(result.ReportMarkdownPath, Markdown(result));
        AtomicFile.WriteText(result.ReportHtmlPath, Html(result));
    }

    /// <summary><c>{"stages": [{"name", "vqa": {"llava-med-v1", "strict"}, "captions", "chat", ...}], "starting_model": {...},
    /// "wall_seconds", "peak_working_set_mb", ...}</c>.</summary>
    public static JsonObject Metrics(CurriculumResult result) => new()
    {
        ["stages"] = new JsonArray(result.Stages.Select(s => (JsonNode)StageJson(s)).ToArray()),
        ["starting_model"] = StageJson(result.Start),
        ["wall_seconds"] = Math.Round(result.WallSeconds, 1),
        ["peak_working_set_mb"] = result.PeakWorkingSetBytes / (1024 * 1024),
        ["seed"] = result.Seed,
        ["scale"] = result.Scale.Name,
        ["vqa_set"] = result.VqaSet,
        ["dtype"] = Models.PlacementPlanner.Name(result.Load.Dtype),
        ["device"] = Models.PlacementPlanner.DeviceName(result.Load.Device ?? TorchSharp.torch.CPU),
        ["baselines"] = new JsonArray(result.Baselines.Select(b => (JsonNode)new JsonObject { ["name"] = b.Name, ["vqa"] = b.Vqa.ToJson() }).ToArray()),
        ["by_question_type"] = result.ByQuestionType is { } types ? QuestionTypeJson(types) : null,
        ["final_losses"] = new JsonObject(result.LossCurves.Select(kv => KeyValuePair.Create(kv.Key,
            (JsonNode?)Math.Round(kv.Value.TakeLast(Math.Max(1, kv.Value.Count / 10)).Average(), 4)))),
    };

    /// <summary><c>[{"group": "closed POS", "questions": n, "strict_accuracy": {"downstream": x, "majority-answer": y, ...}}]</c>.</summary>
    static JsonArray QuestionTypeJson(GroupComparison types) => new(types.Groups.Select((group, g) => (JsonNode)new JsonObject
    {
        ["group"] = group,
        ["questions"] = types.Questions[g],
        ["strict_accuracy"] = new JsonObject(types.Systems.Select((system, s) => KeyValuePair.Create(system, (JsonNode?)types.StrictAccuracy(s, g)))),
    }).ToArray());

    const string QuestionTypeHeading = "Last stage by question type (strict accuracy)";

    static string QuestionTypeNote(GroupComparison types) =>
        $"Accuracy of {types.Systems[0]} and the image-blind baselines per answer type and question type (closed: yes/no polarity or exact "
        + "match; open: exact match). Where the model is no better than the baselines it answers from the question, not the image.";

    static IEnumerable<string[]> QuestionTypeRows(GroupComparison types) =>
        types.Groups.Select((group, g) => new[] { group, types.Questions[g].ToString(CultureInfo.InvariantCulture) }
            .Concat(types.Systems.Select((_, s) => F(types.StrictAccuracy(s, g)))).ToArray());

    static JsonObject StageJson(StageResult stage) => new()
    {
        ["name"] = stage.Name,
        ["vqa"] = stage.Evaluation.Vqa.ToJson(),
        ["captions"] = stage.Evaluation.Captions.ToJson(),
        ["chat"] = stage.Evaluation.Chat.ToJson(),
        ["train_seconds"] = Math.Round(stage.TrainSeconds, 1),
        ["evaluate_seconds"] = Math.Round(stage.EvaluateSeconds, 1),
        ["args"] = stage.Stage?.ToJson(),
    };

    const string HyperparameterHeading = "Hyper-parameters of each stage (as in each stage's stage_args.json)";

    /// <summary>The starting model's pretraining settings in one sentence (its general stages write their own stage_args.json).</summary>
    static string PretrainingNote(CurriculumScale scale)
    {
        static string Of(PretrainingSettings p) => string.Create(CultureInfo.InvariantCulture,
            $"{p.Epochs} epochs, batch {p.BatchSize}, lr {p.LearningRate:g4}, weight decay {p.WeightDecay:g4}, max grad norm {p.MaxGradNorm:g4}, warm-up ratio {p.WarmupRatio:g4}");
        return $"Starting model ({scale.Name} scale): vision tower pretraining {Of(scale.VisionPretraining)}; language model pretraining "
               + $"{Of(scale.LanguagePretraining)}, texts cut at {scale.LanguageMaxLength} tokens; its general stages' values are in "
               + "starting-model/*/stage_args.json. All of them are presets in src/LlavaMed/Curriculum/CurriculumPresets.cs.";
    }

    /// <summary>The stages' settings side by side: one row per setting (<see cref="StageSummary"/>), one column per stage.</summary>
    static IReadOnlyList<string[]> HyperparameterRows(CurriculumResult r)
    {
        var stages = r.Stages.Where(s => s.Stage is not null).Select(s => StageSummary.Rows(s.Stage!)).ToList();
        if (stages.Count == 0) return [];
        return stages[0].Select((row, i) => new[] { row[0] }.Concat(stages.Select(rows => rows[i][1])).ToArray()).ToList();
    }

    static IEnumerable<StageResult> All(CurriculumResult result) => result.Stages.Prepend(result.Start);

    static string F(double? value) => value is null ? "-" : value.Value.ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>A row of the metrics table: a trained model (<see cref="Stage"/> set) or an image-blind baseline
    /// (VQA columns only).</summary>
    sealed record Row(string Name, VqaReport Vqa, StageResult? Stage);

    static IEnumerable<Row> TableRows(CurriculumResult r) =>
        All(r).Select(s => new Row(s.Name == "general" ? "starting model (general)" : s.Name, s.Evaluation.Vqa, s))
            .Concat(r.Baselines.Select(b => new Row($"baseline: {b.Name} (no image)", b.Vqa, null)));

    static readonly (string Header, Func<Row, string> Cell)[] Columns =
    [
        ("model", row => row.Name),
        ("closed acc (v1)", row => F(row.Vqa.LlavaMedV1?.ClosedAccuracy)),
        ("open recall (v1)", row => F(row.Vqa.LlavaMedV1?.OpenRecall)),
        ("closed acc (strict)", row => F(row.Vqa.Strict?.ClosedAccuracy)),
        ("open exact (strict)", row => F(row.Vqa.Strict?.OpenExactMatch)),
        ("open F1 (strict)", row => F(row.Vqa.Strict?.OpenTokenF1)),
        ("caption F1", row => F(row.Stage?.Evaluation.Captions.TokenF1)),
        ("caption BLEU-4", row => F(row.Stage?.Evaluation.Captions.Bleu)),
        ("chat F1", row => F(row.Stage?.Evaluation.Chat.TokenF1)),
        ("train s", row => row.Stage?.TrainSeconds.ToString("0", CultureInfo.InvariantCulture) ?? "-"),
    ];

    /// <summary>Stage 3 against the strongest image-blind baseline, per question kind, in both metric sets' main
    /// numbers: the honest reading of a VQA score.</summary>
    internal static string BaselineComparison(CurriculumResult r)
    {
        var final = r.Stages[^1].Evaluation.Vqa;
        string Compare(string what, double model, IEnumerable<(string Name, double Value)> baselines)
        {
            var best = baselines.MaxBy(b => b.Value);
            var verdict = model > best.Value ? "above" : model == best.Value ? "equal to" : "below";
            return $"{what} {F(model)}, {verdict} the best image-blind baseline ({best.Name} {F(best.Value)}, {(model - best.Value) * 100:+0.0;-0.0;0.0} points)";
        }
        var v1 = final.LlavaMedV1!;
        var quirk = " The llava-med-v1 closed accuracy is LLaVA-Med v1.0.0's run_eval.py rule: a closed answer scores only when it contains yes or no "
            + "and the reference, so \"no\" inside \"nodule\" counts and a correct answer to a two-choice question (\"left or right?\") is a miss. "
            + $"Before that fix (commit bdd4809) the rule also left wrong answers that contain yes or no out of its denominator ({v1.Closed - v1.ClosedCountedPreFix} "
            + $"of {v1.Closed} closed questions after stage 3; {LlavaMedV1Scores.PreFixClosedAccuracyKey} {F(v1.ClosedAccuracyPreFix)}), so a constant \"no\" "
            + "scored 1.0 on it. The strict closed accuracy counts every question by its right answer and is the one to compare with chance (0.5).";
        return $"After stage 3 on the {r.VqaSet} test split: "
            + Compare("closed accuracy (llava-med-v1)", final.LlavaMedV1!.ClosedAccuracy, r.Baselines.Select(b => (b.Name, b.Vqa.LlavaMedV1!.ClosedAccuracy))) + "; "
            + Compare("closed accuracy (strict)", final.Strict!.ClosedAccuracy ?? 0, r.Baselines.Select(b => (b.Name, b.Vqa.Strict!.ClosedAccuracy ?? 0))) + "; "
            + Compare("open recall (llava-med-v1)", final.LlavaMedV1.OpenRecall ?? 0, r.Baselines.Select(b => (b.Name, b.Vqa.LlavaMedV1!.OpenRecall ?? 0))) + "; "
            + Compare("open exact match (strict)", final.Strict.OpenExactMatch ?? 0, r.Baselines.Select(b => (b.Name, b.Vqa.Strict!.OpenExactMatch ?? 0))) + "." + quirk;
    }

    static string Intro(CurriculumResult r) =>
        $"Scale `{r.Scale.Name}`, seed {r.Seed}: wall time {r.WallSeconds:0} s, peak working set {r.PeakWorkingSetBytes / (1024 * 1024)} MB. "
        + $"Model: decoder hidden {r.Scale.HiddenSize}, {r.Scale.Layers} layers (GQA 4/2), CLIP {r.Scale.ImageSize} px / patch {r.Scale.PatchSize}, "
        + $"tower hidden {r.Scale.VisionHidden} x {r.Scale.VisionLayers} layers, {r.Scale.ProjectorType} projector, {r.Scale.VocabularySize}-piece SentencePiece tokenizer. "
        + $"Epochs: stage 1 {r.Scale.AlignmentEpochs}, stage 2 {r.Scale.InstructionEpochs}, stage 3 {r.Scale.DownstreamEpochs}.";

    const string Method =
        "The starting model plays the general LLaVA that LLaVA-Med starts from. Its vision tower was pretrained to predict the words of "
        + "each image's caption (general scenes and the training figures' alignment captions, as BiomedCLIP and PMC-CLIP pretrain on "
        + "figure-caption pairs; images shifted and contrast-jittered so that it does not memorise them): LLaVA-Med keeps the tower frozen in every stage, so it must already "
            + "see organs, findings, sides, sizes and "
        + "counts. Its language model was pretrained on text alone, and it went through LLaVA's two stages on the general scenes (projector "
        + "alignment on captions, instruction tuning on conversations). The curriculum then runs stage 1 (projector only, plain template, "
        + "figure captions), stage 2 (projector + LM, self-instruct conversations written offline from each figure's ground truth) and stage 3 "
        + "(projector + LM, VQA train split, each image's questions trained as one packed row that gives the loss of separate rows). Every model is evaluated on held-out "
            + "figures: VQA test split (both metric sets), captions "
        + "(plain template, strict token F1 and BLEU-4 against the reference caption) and qa50-style chat questions (token F1 against the reference answer).";

    static string Markdown(CurriculumResult r)
    {
        var md = new StringBuilder();
        md.AppendLine("# LLaVA-Med curriculum report").AppendLine().AppendLine(Intro(r)).AppendLine().AppendLine(Method).AppendLine();
        foreach (var note in r.DataNotes) md.AppendLine($"- {note}");
        md.AppendLine().AppendLine("## Metrics after each stage").AppendLine();
        md.AppendLine("| " + string.Join(" | ", Columns.Select(c => c.Header)) + " |");
        md.AppendLine("|" + string.Concat(Columns.Select(_ => "---|")));
        foreach (var row in TableRows(r)) md.AppendLine("| " + string.Join(" | ", Columns.Select(c => c.Cell(row))) + " |");
        md.AppendLine().AppendLine(BaselineComparison(r));
        if (r.ByQuestionType is { } types)
        {
            md.AppendLine().AppendLine($"## {QuestionTypeHeading}").AppendLine().AppendLine(QuestionTypeNote(types)).AppendLine();
            md.AppendLine("| group | questions | " + string.Join(" | ", types.Systems) + " |");
            md.AppendLine("|---|---|" + string.Concat(types.Systems.Select(_ => "---|")));
            foreach (var row in QuestionTypeRows(types)) md.AppendLine("| " + string.Join(" | ", row) + " |");
        }
        if (HyperparameterRows(r) is { Count: > 0 } settings)
        {
            md.AppendLine().AppendLine($"## {HyperparameterHeading}").AppendLine();
            md.AppendLine("| " + string.Join(" | ", settings[0].Select(cell => cell.Replace("|", "\\|"))) + " |")
              .AppendLine("|" + string.Concat(settings[0].Select(_ => "---|")));
            foreach (var row in settings.Skip(1)) md.AppendLine("| " + string.Join(" | ", row.Select(cell => cell.Replace("|", "\\|"))) + " |");
            md.AppendLine().AppendLine(PretrainingNote(r.Scale));
        }
        md.AppendLine().AppendLine("## Training losses (means of the first and last tenth of each phase's steps)").AppendLine();
        md.AppendLine("| phase | steps | first | last |").AppendLine("|---|---|---|---|");
        foreach (var (phase, curve) in r.LossCurves)
        {
            var tenth = Math.Max(1, curve.Count / 10);
            md.AppendLine($"| {phase} | {curve.Count} | {F(curve.Take(tenth).Average())} | {F(curve.TakeLast(tenth).Average())} |");
        }
        md.AppendLine().AppendLine("Loss curves are drawn in report.html.").AppendLine();
        var imageFolder = Path.Combine(r.OutputDir, "report-images");
        Directory.CreateDirectory(imageFolder);
        string Image(string path)
        {
            var name = Path.GetFileName(path);
            File.Copy(path, Path.Combine(imageFolder, name), overwrite: true);
            return $"![{name}](report-images/{name})";
        }
        md.AppendLine("## Example answers (VQA test split)").AppendLine();
        foreach (var (example, index) in r.Start.Evaluation.VqaExamples.Select((e, i) => (e, i)))
        {
            md.AppendLine($"{Image(example.Image)}").AppendLine().AppendLine($"**Q:** {example.Question} **Reference:** {example.Reference}").AppendLine();
            foreach (var stage in All(r)) md.AppendLine($"- {stage.Name}: {Escape(stage.Evaluation.VqaExamples[index].Answer)}");
            md.AppendLine();
        }
        md.AppendLine("## Example captions and chat answers (held-out figures)").AppendLine();
        foreach (var (kind, pick) in new (string, Func<StageEvaluation, TextScores>)[] { ("caption", e => e.Captions), ("chat", e => e.Chat) })
            foreach (var (example, index) in pick(r.Start.Evaluation).Examples.Select((e, i) => (e, i)))
            {
                md.AppendLine($"{Image(example.Image)}").AppendLine().AppendLine($"**{kind}** {(kind == "chat" ? $"**Q:** {example.Question} " : "")}**Reference:** "
                    + $"{example.Reference}").AppendLine();
                foreach (var stage in All(r)) md.AppendLine($"- {stage.Name}: {Escape(pick(stage.Evaluation).Examples[index].Answer)}");
                md.AppendLine();
            }
        return md.ToString();
    }

    static string Escape(string text) => text.Length == 0 ? "(empty)" : text.Replace("|", "\\|").Replace("\n", " ");

    static string Html(CurriculumResult r)
    {
        string E(string text) => WebUtility.HtmlEncode(text);
        string Img(string path) => $"<img src=\"data:image/png;base64,{Convert.ToBase64String(File.ReadAllBytes(path))}\" width=\"112\">";
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>LLaVA-Med curriculum report</title>")
            .Append("<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px "
                + "8px}</style></head><body>")
            .Append(Chart.PlotlyScriptElement()) // once for every chart below
            .Append("<h1>LLaVA-Med curriculum report</h1>").Append($"<p>{E(Intro(r))}</p><p>{E(Method)}</p><ul>");
        foreach (var note in r.DataNotes) html.Append($"<li>{E(note)}</li>");
        html.Append("</ul><h2>Metrics after each stage</h2><table><tr>");
        foreach (var column in Columns) html.Append($"<th>{E(column.Header)}</th>");
        html.Append("</tr>");
        foreach (var row in TableRows(r)) html.Append("<tr>").Append(string.Concat(Columns.Select(c => $"<td>{E(c.Cell(row))}</td>"))).Append("</tr>");
        html.Append($"</table><p>{E(BaselineComparison(r))}</p>");
        if (r.ByQuestionType is { } types)
        {
            html.Append($"<h2>{E(QuestionTypeHeading)}</h2><p>{E(QuestionTypeNote(types))}</p><table><tr><th>group</th><th>questions</th>");
            foreach (var system in types.Systems) html.Append($"<th>{E(system)}</th>");
            html.Append("</tr>");
            foreach (var row in QuestionTypeRows(types)) html.Append("<tr>").Append(string.Concat(row.Select(cell => $"<td>{E(cell)}</td>"))).Append("</tr>");
            html.Append("</table>").Append(types.AccuracyChart($"Strict accuracy by question type after {types.Systems[0]}").FigureHtml);
        }
        if (HyperparameterRows(r) is { Count: > 0 } settings)
        {
            html.Append($"<h2>{E(HyperparameterHeading)}</h2><table>");
            foreach (var (row, i) in settings.Select((row, i) => (row, i)))
                html.Append("<tr>").Append(string.Concat(row.Select(cell => i == 0 ? $"<th>{E(cell)}</th>" : $"<td>{E(cell)}</td>"))).Append("</tr>");
            html.Append($"</table><p>{E(PretrainingNote(r.Scale))}</p>");
        }
        html.Append("<h2>Loss curves</h2>");
        var series = r.LossCurves.Select(kv => new LineSeries(kv.Key, kv.Value.Select((_, i) => (double)(i + 1) / kv.Value.Count).ToArray(), kv.Value));
        html.Append(Charts.Lines(series, "Training loss per phase", "fraction of the phase", "loss").FigureHtml);
        html.Append("<h2>Example answers (VQA test split)</h2><table><tr><th>image</th><th>question / reference</th>");
        foreach (var stage in All(r)) html.Append($"<th>{E(stage.Name)}</th>");
        html.Append("</tr>");
        void Rows(Func<StageEvaluation, IReadOnlyList<ExampleAnswer>> pick)
        {
            foreach (var (example, index) in pick(r.Start.Evaluation).Select((e, i) => (e, i)))
            {
                html.Append($"<tr><td>{Img(example.Image)}</td><td>{E(example.Question)}<br><i>{E(example.Reference)}</i></td>");
                foreach (var stage in All(r)) html.Append($"<td>{E(pick(stage.Evaluation)[index].Answer)}</td>");
                html.Append("</tr>");
            }
        }
        Rows(e => e.VqaExamples);
        html.Append("</table><h2>Captions and chat answers (held-out figures)</h2><table><tr><th>image</th><th>question / reference</th>");
        foreach (var stage in All(r)) html.Append($"<th>{E(stage.Name)}</th>");
        html.Append("</tr>");
        Rows(e => e.Captions.Examples);
        Rows(e => e.Chat.Examples);
        html.Append("</table></body></html>\n");
        return html.ToString();
    }
}
