using System.Text.Json.Nodes;
using LlavaMed.Curriculum;

namespace LlavaMed.Tests.Curriculum;

public sealed class PaperTablesTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-paper-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    void Write(string relativePath, string text)
    {
        var path = Path.Combine(temporary, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    static string Metrics(string? dataset, double open, double closed, double chat, bool preFixKey = true) => new JsonObject
    {
        ["scale"] = "full", ["seed"] = 0, ["vqa_set"] = dataset,
        ["stages"] = new JsonArray(
            new JsonObject { ["name"] = "instruction", ["chat"] = new JsonObject { ["token_f1"] = chat } },
            new JsonObject
            {
                ["name"] = "downstream",
                ["vqa"] = new JsonObject
                {
                    ["llava-med-v1"] = preFixKey
                        ? new JsonObject { ["open_recall"] = open, ["closed_accuracy"] = closed, ["closed_accuracy_pre_fix_bdd4809"] = 0.99 }
                        : new JsonObject { ["open_recall"] = open, ["closed_accuracy"] = closed },
                    ["strict"] = new JsonObject { ["open_exact_match"] = open / 2, ["closed_accuracy"] = closed / 2 },
                },
            }),
    }.ToJsonString();

    [Fact]
    public void TablesAreFilledFromRunsAndEverythingElseIsADash()
    {
        Write("runs/curriculum-0/metrics.json", Metrics("synthetic", 0.8, 0.9, 0.5));
        Write("runs/curriculum-vqarad/metrics.json", Metrics("vqa-rad", 0.3, 0.6, 0.4));
        Write("runs/curriculum-vqarad/eval-chat.json", """
            {"summary": [{"category": "conversation", "data_size": 3, "gpt4_score": 8, "pred_score": 4, "pred_relative_score": 50, "ratio_of_means": 50},
                         {"category": "overall", "data_size": 3, "gpt4_score": 8, "pred_score": 6, "pred_relative_score": 75, "ratio_of_means": 75}]}
            """);
        Write("runs/old/metrics.json", Metrics(null, 0.1, 0.1, 0.1));
        // Written before closed_accuracy followed v1.0.0's rule: its closed number is the pre-fix one.
        Write("runs/pre-fix/metrics.json", Metrics("slake", 0.7, 0.95, 0.1, preFixKey: false));
        Write("runs/broken/metrics.json", "{ not json");
        Write("runs/ablate/ablations.json", """
            {"scale": "quick", "seed": 1, "wall_seconds": 3, "not_run": [], "variants": [
              {"name": "linear", "label": "linear", "overrides": {"name": "linear", "projector": "linear"}, "axes": ["projector"],
               "settings": {"stage1_epochs": 1, "instruction_data": "captions", "instruction_fraction": 1, "image_size": 56, "patch_size": 14,
                            "projector": "linear", "start": "general model (from LLaVA)"},
               "scores": {"closed_accuracy": 0.7, "open_recall": 0.2, "strict_closed_accuracy": 0.6, "strict_open_exact_match": 0.1,
                          "chat_f1_stage2": 0.3, "caption_f1_stage1": 0.2, "train_seconds": 9},
               "starting_model": "px56", "reused": false}]}
            """);

        var runs = PaperRuns.Find([Path.Combine(temporary, "runs"), Path.Combine(temporary, "missing")]);

        Assert.Equal(["curriculum-0", "curriculum-vqarad", "old", "pre-fix"], runs.Curricula.Select(r => r.Name));
        Assert.Contains(runs.Notes, n => n.Contains(Path.Combine("broken", "metrics.json")) && n.Contains("left out"));

        var notes = new List<string>();
        var vqa = PaperTables.Vqa(runs, notes: notes);
        Assert.Equal(["method", "VQA-RAD open", "VQA-RAD closed", "SLAKE open", "SLAKE closed", "PathVQA open", "PathVQA closed", "synthetic open", "synthetic "
            + "closed"], vqa.Headers);
        // The runs of one method on three data sets share a row; PathVQA has no run. The pre-fix run's closed cell
        // stays empty (its closed_accuracy follows LLaVA-Med bdd4809's rule) and a note says why.
        var row = Assert.Single(vqa.Rows);
        Assert.Equal(["LLaVA-Med curriculum (full scale, seed 0)", "30.00", "60.00", "70.00", "-", "-", "-", "80.00", "90.00"], row);
        Assert.Contains(notes, n => n.Contains("old") && n.Contains("does not record the VQA data set"));
        Assert.Contains(notes, n => n.Contains("pre-fix") && n.Contains("bdd4809"));
        Assert.Equal(2, notes.Count);
        Assert.Contains("closed_accuracy_pre_fix_bdd4809", vqa.Note);
        Assert.Equal(["15.00", "30.00", "35.00", "47.50"], PaperTables.Vqa(runs, "strict").Rows[0].Skip(1).Take(4));
        Assert.Equal(["vqa-rad", "synthetic"], PaperTables.VqaCharts(runs).Select(c => c.Dataset));

        var chat = PaperTables.Chat(runs);
        Assert.Equal(["run", "measure", "Conversation", "Description", "CXR", "MRI", "Histology", "Gross", "CT", "Overall"], chat.Headers);
        Assert.Equal([Path.Combine("curriculum-vqarad", "eval-chat.json"), "GPT-judge relative score (%)", "50.0", "-", "-", "-", "-", "-", "-", "75.0"], chat.Rows[0]);
        // Runs without a review get the proxy, overall only, and say so; the reviewed run gets no proxy row.
        Assert.Equal(["curriculum-0", "token F1 x 100 (proxy, not judged)", "-", "-", "-", "-", "-", "-", "-", "50.0"], chat.Rows[1]);
        Assert.Equal(4, chat.Rows.Count);
        Assert.Equal(["chat-judged", "chat-token-f1-proxy"], PaperTables.ChatCharts(runs).Select(c => c.Name));

        var ablation = Assert.Single(PaperTables.Ablations(runs));
        Assert.Equal("0.700", Assert.Single(ablation.Rows)[8]);
        Assert.Contains("| linear | linear | 1 | captions |", ablation.ToMarkdown());
    }

    [Fact]
    public void WithoutRunsTheTablesKeepTheirLayoutAndHoldOnlyDashes()
    {
        var runs = PaperRuns.Find([temporary]);

        var vqa = PaperTables.Vqa(runs);
        Assert.Empty(vqa.Rows);
        Assert.Contains("| - | - | - | - | - | - | - | - | - |", vqa.ToMarkdown());
        Assert.Empty(PaperTables.Chat(runs).Rows);
        Assert.Empty(PaperTables.VqaCharts(runs));
        Assert.Empty(PaperTables.ChatCharts(runs));
        Assert.Empty(PaperTables.Ablations(runs));
    }
}
