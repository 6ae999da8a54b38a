using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LlavaMed.Data;
using LlavaMed.Evaluation;

namespace LlavaMed.Cli;

/// <summary><c>llava-med eval</c>: scores model outputs. <c>eval vqa</c> scores an answer file against LLaVA-Med
/// downstream ground truth.</summary>
public static class EvalCommand
{
    public static Command Create() => new("eval", "Score model outputs")
    {
        Vqa(),
        EvalChatCommand.Create(),
    };

    static Command Vqa()
    {
        var predictions = new Option<string>("--predictions") { Description = "answer file (JSONL: question_id, text, ...)", Required = true };
        var groundTruth = new Option<string>("--ground-truth") { Description = "LLaVA-Med downstream test set (JSON array: id, answer_type, conversations)", Required = true };
        var metrics = new Option<string>("--metrics")
        {
            Description = $"{LlavaMedV1Metrics.Name} (LLaVA-Med v1.0.0's scripts, number for number), {StrictMetrics.Name}, or all",
            DefaultValueFactory = _ => "all",
        };
        metrics.AcceptOnlyFromAmong(LlavaMedV1Metrics.Name, StrictMetrics.Name, "all");
        var candidates = new Option<string?>("--candidates") { Description = "train_open_answers.json: adds run_eval.py's candidate-matching open accuracy" };
        var output = new Option<string?>("--output") { Description = "write the scores as JSON here" };
        var command = new Command("vqa", "VQA accuracy on VQA-RAD / SLAKE / PathVQA style data")
        {
            predictions, groundTruth, metrics, candidates, output,
        };
        command.SetAction(parse => CliErrors.Run(parse, (stdout, _) =>
        {
            var groundTruthPath = parse.GetValue(groundTruth)!;
            var predictionsPath = parse.GetValue(predictions)!;
            var candidatesPath = parse.GetValue(candidates);
            var report = VqaEvaluation.Evaluate(
                LlavaSample.ReadJsonArray(groundTruthPath), AnswerRecord.ReadJsonl(predictionsPath),
                VqaEvaluation.ParseMetricSets(parse.GetValue(metrics)!),
                candidatesPath is null ? null : VqaEvaluation.ReadOpenCandidates(candidatesPath),
                groundTruthPath, predictionsPath);
            WriteTable(stdout, report);
            if (parse.GetValue(output) is { } outputPath)
            {
                File.WriteAllText(outputPath, report.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
                stdout.WriteLine($"wrote {outputPath}");
            }
            return 0;
        }));
        return command;
    }

    static void WriteTable(TextWriter writer, VqaReport report)
    {
        var rows = new List<string?[]>();
        if (report.LlavaMedV1 is { } v1)
        {
            rows.Add([$"{LlavaMedV1Metrics.Name} (LLaVA-Med v1.0.0 scripts)", "open", "closed", "all"]);
            rows.Add(["questions", Count(v1.Open), Count(v1.Closed), Count(v1.Open + v1.Closed + v1.Unscored)]);
            if (v1.Unscored > 0) rows.Add(["  not scored (answer_type not exactly OPEN/CLOSED)", null, null, Count(v1.Unscored)]);
            rows.Add(["recall (the paper's open metric)", Percent(v1.OpenRecall), Percent(v1.ClosedRecall), null]);
            rows.Add(["yes/no accuracy, run_eval.py v1.0.0 (closed_accuracy)", null, Percent(v1.ClosedAccuracy), null]);
            rows.Add(["yes/no accuracy, run_eval.py before the fix (bdd4809)", null, Percent(v1.ClosedAccuracyPreFix), null]);
            rows.Add(["  questions it counts (drops misses that say yes/no)", null, Count(v1.ClosedCountedPreFix), null]);
            rows.Add(["accuracy, substring (run_eval_batch.py)", Percent(v1.OpenAccuracySubstring), Percent(v1.ClosedAccuracySubstring), null]);
            if (v1.OpenAccuracyCandidates is not null)
                rows.Add(["accuracy, nearest training answer (run_eval.py)", Percent(v1.OpenAccuracyCandidates), null, null]);
            rows.Add(["precision", Percent(v1.OpenPrecision), null, null]);
            rows.Add(["f1", Percent(v1.OpenF1), null, null]);
            rows.Add(["\"exact match\" (found words / predicted words)", Percent(v1.ExactMatch), null, null]);
            rows.Add(["bleu (uniform 1-4)", Percent(v1.Bleu), null, null]);
            foreach (var (order, bleu) in new[] { v1.Bleu1, v1.Bleu2, v1.Bleu3, v1.Bleu4 }.Select((b, i) => (i + 1, b)))
                rows.Add([$"bleu_{order} ({order}-grams only)", Percent(bleu), null, null]);
        }
        if (report.Strict is { } strict)
        {
            if (rows.Count > 0) rows.Add([]);
            rows.Add([$"{StrictMetrics.Name}", "open", "closed", "all"]);
            rows.Add(["questions", Count(strict.Open), Count(strict.Closed), Count(strict.Open + strict.Closed + strict.Other)]);
            rows.Add(["accuracy (closed: yes/no polarity or exact; open: exact)", Percent(strict.OpenExactMatch), Percent(strict.ClosedAccuracy), Percent(strict.OverallAccuracy)]);
            rows.Add([$"yes/no accuracy ({strict.YesNo} questions)", null, Percent(strict.YesNoAccuracy), null]);
            rows.Add(["exact match", Percent(strict.OpenExactMatch), null, Percent(strict.ExactMatch)]);
            rows.Add(["token f1", Percent(strict.OpenTokenF1), null, Percent(strict.TokenF1)]);
        }
        int width = rows.Max(r => r.Length > 0 ? r[0]!.Length : 0);
        int[] columns = [.. Enumerable.Range(1, 3).Select(c => Math.Max(8, rows.Max(r => r.Length > c ? r[c]?.Length ?? 0 : 0)))];
        foreach (var row in rows)
        {
            if (row.Length == 0)
            {
                writer.WriteLine();
                continue;
            }
            var line = row[0]!.PadRight(width);
            for (int c = 1; c < row.Length; c++) line += "  " + (row[c] ?? "").PadLeft(columns[c - 1]);
            writer.WriteLine(line.TrimEnd());
        }
        if (report.LlavaMedV1 is not null) writer.WriteLine(LlavaMedV1Metrics.ClosedRules);
    }

    static string Count(int n) => n.ToString(CultureInfo.InvariantCulture);

    static string Percent(double? fraction) =>
        fraction is { } f ? (f * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%" : "-";
}
