using System.CommandLine;
using System.Text.Json.Nodes;
using LlavaMed.Cli;
using LlavaMed.Data;
using LlavaMed.Evaluation;
using LlavaMed.Tests.Cli;
using LlavaMed.Text;

namespace LlavaMed.Tests.Evaluation;

public sealed class VqaEvaluationTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-eval-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    static LlavaSample Sample(string id, string answerType, string answer) =>
        new(id, $"{id}.jpg", [new ConversationTurn("human", "<image>\nIs there an effusion?"), new ConversationTurn("gpt", answer)], answerType);

    static AnswerRecord Answer(string id, string text) => new(id, "", text, "", "m");

    static readonly LlavaSample[] GroundTruth =
    [
        Sample("1", "CLOSED", "no"),
        Sample("2", "CLOSED", "yes"),
        Sample("3", "OPEN", "pleural effusion"),
        Sample("4", "CLOSED ", "yes"),
    ];

    static readonly AnswerRecord[] Predictions =
    [
        Answer("1", "Nodule present."),
        Answer("2", "Yes"),
        Answer("3", "Effusion."),
        Answer("4", "yes"),
    ];

    [Fact]
    public void ReportHoldsBothSetsUnderTheirNames()
    {
        var json = VqaEvaluation.Evaluate(GroundTruth, Predictions).ToJson();
        var v1 = json["llava-med-v1"]!.AsObject();
        var strict = json["strict"]!.AsObject();
        Assert.Equal(2, json.Count);
        Assert.Equal(1.0, v1["closed_accuracy"]!.GetValue<double>());  // "nodule" counts as "no"
        Assert.Equal(2, v1["n_closed"]!.GetValue<int>());
        Assert.Equal(1, v1["n_unscored"]!.GetValue<int>());
        Assert.Equal(0.5, v1["open_recall"]!.GetValue<double>());
        Assert.Equal(Math.Exp(-1), v1["bleu_1"]!.GetValue<double>());
        foreach (var key in new[] { "closed_accuracy_pre_fix_bdd4809", "n_closed_counted", "closed_accuracy_substring", "open_precision", "open_f1", "exact_match",
                                    "open_accuracy_substring", "bleu", "bleu_2", "bleu_3", "bleu_4", "n_open" })
            Assert.True(v1.ContainsKey(key), key);
        Assert.Null(v1["open_accuracy_candidates"]);
        Assert.Equal(2.0 / 3, strict["closed_accuracy"]!.GetValue<double>());  // "nodule" is not "no"; "CLOSED " counts
        Assert.Equal(3, strict["n_closed"]!.GetValue<int>());
    }

    [Fact]
    public void OnlyTheAskedSetIsComputed()
    {
        var json = VqaEvaluation.Evaluate(GroundTruth, Predictions, VqaMetricSets.Strict).ToJson();
        Assert.Equal(["strict"], json.Select(kv => kv.Key));
        Assert.Equal(VqaMetricSets.All, VqaEvaluation.ParseMetricSets("all"));
        Assert.Throws<ArgumentException>(() => VqaEvaluation.ParseMetricSets("bleu"));
    }

    [Fact]
    public void IdsMustMatchInOrder()
    {
        var swapped = new[] { Predictions[1], Predictions[0], Predictions[2], Predictions[3] };
        var e = Assert.Throws<DataFormatException>(() => VqaEvaluation.Pair(GroundTruth, swapped));
        Assert.Equal("answer 1", e.Location);
        Assert.Contains("question_id '2' does not match id '1'", e.Message);
        var missing = Assert.Throws<DataFormatException>(() => VqaEvaluation.Pair(GroundTruth, Predictions[..3]));
        Assert.Contains("3 answers for 4 questions; first missing id '4'", missing.Message);
        var extra = Assert.Throws<DataFormatException>(() => VqaEvaluation.Pair(GroundTruth[..3], Predictions));
        Assert.Contains("extra question_id '4'", extra.Message);
        Assert.Throws<DataFormatException>(() => VqaEvaluation.Pair([], Predictions));
        Assert.Throws<DataFormatException>(() => VqaEvaluation.Pair(GroundTruth, []));
    }

    [Fact]
    public void GroundTruthWithoutAnAnswerTurnIsAnError()
    {
        var noAnswer = new LlavaSample("1", null, [new ConversationTurn("human", "q")], "OPEN");
        var e = Assert.Throws<DataFormatException>(() => VqaEvaluation.Pair([noAnswer], [Answer("1", "x")], "gt.json"));
        Assert.Equal("[0]", e.Location);
    }

    [Fact]
    public void CandidatesFileAcceptsTheReferenceLayoutWithNumbers()
    {
        var path = Path.Combine(temporary, "train_open_answers.json");
        File.WriteAllText(path, """{"0": ["left lung", 7, "liver"]}""");
        Assert.Equal(["left lung", "7", "liver"], VqaEvaluation.ReadOpenCandidates(path));
        File.WriteAllText(path, """{"0": []}""");
        Assert.Throws<DataFormatException>(() => VqaEvaluation.ReadOpenCandidates(path));
    }

    string WriteFiles(IEnumerable<AnswerRecord> answers, string answersText = "")
    {
        File.WriteAllText(Path.Combine(temporary, "test.json"),
                          new JsonArray([.. GroundTruth.Select(s => (JsonNode)s.ToJson())]).ToJsonString());
        var answersPath = Path.Combine(temporary, "answers.jsonl");
        File.WriteAllText(answersPath, answersText + string.Concat(answers.Select(a => a.ToJson().ToJsonString() + "\n")));
        return answersPath;
    }

    [Fact]
    public void EvalVqaPrintsATableAndWritesTheReport()
    {
        var answers = WriteFiles(Predictions);
        var result = Path.Combine(temporary, "result.json");
        var (code, output, _) = CliRunner.Run("eval", "vqa", "--predictions", answers, "--ground-truth", Path.Combine(temporary, "test.json"),
                                    "--output", result);
        Assert.Equal(0, code);
        Assert.Contains("recall (the paper's open metric)", output);
        Assert.Contains("50.00%", output);
        var json = JsonNode.Parse(File.ReadAllText(result))!.AsObject();
        Assert.Equal(VqaEvaluation.Evaluate(GroundTruth, Predictions).ToJson().ToJsonString(), json.ToJsonString());
    }

    /// <summary>Hand-made files on which LLaVA-Med's three closed rules disagree: run_eval.py at v1.0.0 (hit: says
    /// yes/no and contains the answer; every question counts), the same before its fix (bdd4809: wrong yes/no answers
    /// dropped) and run_eval_batch.py (contains the answer).</summary>
    [Fact]
    public void TheThreeClosedRulesGiveThreeNumbersOnHandMadeAnswerFiles()
    {
        var test = Path.Combine(temporary, "closed.json");
        File.WriteAllText(test, """
            [{"id": "1", "answer_type": "CLOSED", "conversations": [{"from": "human", "value": "Is there a nodule?"}, {"from": "gpt", "value": "no"}]},
             {"id": "2", "answer_type": "CLOSED", "conversations": [{"from": "human", "value": "Is it enlarged?"}, {"from": "gpt", "value": "yes"}]},
             {"id": "3", "answer_type": "CLOSED", "conversations": [{"from": "human", "value": "Left or right?"}, {"from": "gpt", "value": "left"}]},
             {"id": "4", "answer_type": "CLOSED", "conversations": [{"from": "human", "value": "Is there a mass?"}, {"from": "gpt", "value": "no"}]},
             {"id": "5", "answer_type": "CLOSED", "conversations": [{"from": "human", "value": "Is there a fracture?"}, {"from": "gpt", "value": "yes"}]},
             {"id": "6", "answer_type": "OPEN", "conversations": [{"from": "human", "value": "Which organ?"}, {"from": "gpt", "value": "liver"}]}]
            """);
        var answers = Path.Combine(temporary, "closed-answers.jsonl");
        File.WriteAllText(answers, """
            {"question_id": "1", "text": "No."}
            {"question_id": "2", "text": "No, there is none."}
            {"question_id": "3", "text": "Left side."}
            {"question_id": "4", "text": "Nodule present"}
            {"question_id": "5", "text": "absent"}
            {"question_id": "6", "text": "liver"}
            """);
        //            v1.0.0   pre-fix   batch
        // 1 "no"     hit      hit       hit
        // 2 "yes"    miss     dropped   miss    says "no", not "yes"
        // 3 "left"   miss     miss      hit     right, but says neither yes nor no
        // 4 "no"     hit      hit       hit     "no" inside "nodule"
        // 5 "yes"    miss     miss      miss
        var v1 = VqaEvaluation.Evaluate(LlavaSample.ReadJsonArray(test), AnswerRecord.ReadJsonl(answers), VqaMetricSets.LlavaMedV1).LlavaMedV1!;
        Assert.Equal(5, v1.Closed);
        Assert.Equal(2.0 / 5, v1.ClosedAccuracy);
        Assert.Equal(2.0 / 4, v1.ClosedAccuracyPreFix);
        Assert.Equal(4, v1.ClosedCountedPreFix);
        Assert.Equal(3.0 / 5, v1.ClosedAccuracySubstring);

        var result = Path.Combine(temporary, "closed-result.json");
        var (code, output, _) = CliRunner.Run("eval", "vqa", "--predictions", answers, "--ground-truth", test, "--output", result);
        Assert.Equal(0, code);
        var json = JsonNode.Parse(File.ReadAllText(result))!["llava-med-v1"]!;
        Assert.Equal((0.4, 0.5, 4, 0.6), (json["closed_accuracy"]!.GetValue<double>(), json["closed_accuracy_pre_fix_bdd4809"]!.GetValue<double>(),
                                          json["n_closed_counted"]!.GetValue<int>(), json["closed_accuracy_substring"]!.GetValue<double>()));
        // The table shows each rule's number and one line says which rule each closed number follows.
        var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains(lines, l => l.StartsWith("yes/no accuracy, run_eval.py v1.0.0 (closed_accuracy)") && l.EndsWith(" 40.00%"));
        Assert.Contains(lines, l => l.StartsWith("yes/no accuracy, run_eval.py before the fix (bdd4809)") && l.EndsWith(" 50.00%"));
        Assert.Contains(lines, l => l.StartsWith("accuracy, substring (run_eval_batch.py)") && l.EndsWith(" 60.00%"));
        Assert.Single(lines, l => l == LlavaMedV1Metrics.ClosedRules);
        Assert.StartsWith("closed rules: closed_accuracy = run_eval.py at v1.0.0", LlavaMedV1Metrics.ClosedRules);
    }

    [Fact]
    public void EvalVqaReportsMismatchedIdsAndMalformedLinesWithTheirLine()
    {
        var test = Path.Combine(temporary, "test.json");
        var answers = WriteFiles([Predictions[0], Predictions[2], Predictions[1], Predictions[3]]);
        var (code, _, error) = CliRunner.Run("eval", "vqa", "--predictions", answers, "--ground-truth", test);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {answers}:line 2: question_id '3' does not match id '2'", error);

        WriteFiles([], answersText: Predictions[0].ToJson().ToJsonString() + "\n\n{\"question_id\": \"2\", \"text\": \n");
        (code, _, error) = CliRunner.Run("eval", "vqa", "--predictions", answers, "--ground-truth", test);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {answers}:line 3: invalid JSON", error);

        WriteFiles([]);
        (code, _, error) = CliRunner.Run("eval", "vqa", "--predictions", answers, "--ground-truth", test);
        Assert.Equal(1, code);
        Assert.Contains("no answers", error);
    }
}
