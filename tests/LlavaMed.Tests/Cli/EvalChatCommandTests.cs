using System.CommandLine;
using System.Text.Json.Nodes;
using LlavaMed.Cli;
using LlavaMed.Tests.Evaluation.Judge;
using LlavaMed.Tests.Llm;

namespace LlavaMed.Tests.Cli;

public sealed class EvalChatCommandTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-judge-cli-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    [Fact]
    public void EvalChatScoresThroughAnOpenAIProtocolServerAndWritesTheTable()
    {
        // Four questions: two conversation (histology, mri), one detailed description (ct), one chest X-ray.
        var template = JsonNode.Parse(JudgeTests.QuestionLine)!.AsObject();
        JsonObject Make(int id, string type, string domain)
        {
            var q = (JsonObject)template.DeepClone();
            q["question_id"] = id;
            q["type"] = type;
            q["domain"] = new JsonObject { ["chest_xray"] = domain == "chest_xray", ["mri"] = domain == "mri", ["ct_scan"] = domain == "ct_scan",
                                           ["histology"] = domain == "histology", ["gross"] = false };
            return q;
        }
        var questions = Path.Combine(temporary, "qa.jsonl");
        File.WriteAllLines(questions, new[] { Make(0, "conversation", "histology"), Make(1, "conversation", "mri"),
                                              Make(2, "detailed_description", "ct_scan"), Make(3, "conversation", "chest_xray") }
                                      .Select(q => q.ToJsonString()));
        var answers = Path.Combine(temporary, "answers.jsonl");
        File.WriteAllLines(answers, Enumerable.Range(0, 4).Reverse().Select(i =>
            new JsonObject { ["question_id"] = i, ["prompt"] = "q", ["text"] = $"answer {i}", ["answer_id"] = $"a{i}", ["model_id"] = "tiny" }.ToJsonString()));
        // Reference 8 everywhere; the model gets 2, 4, 6, 8 for answers 0..3.
        using var server = new OpenAIProtocolServer((request, _) =>
        {
            var id = int.Parse(request.LastUserText.Split("[Assistant 2]\nanswer ")[1][..1]);
            return ServerReply.Ok($"8 {2 * (id + 1)}\nexplanation");
        });
        Environment.SetEnvironmentVariable("OPENAI_API_KEY", "sk-test-cli");
        var result = Path.Combine(temporary, "result.json");
        string[] args = ["eval", "chat", "--questions", questions, "--answers", answers, "--judge-provider", "openai",
                         "--judge-model", "gpt-4-judge", "--judge-endpoint", server.OpenAIBase.ToString(),
                         "--cache", Path.Combine(temporary, "cache"), "--output", result];
        var (code, output, _) = CliRunner.Run(args);
        Assert.Equal(0, code);
        Assert.Equal(4, server.RequestCount);
        Assert.Contains("overall", output);

        var summary = JsonNode.Parse(File.ReadAllText(result))!["summary"]!.AsArray().ToDictionary(r => (string)r!["category"]!);
        Assert.Equal(["conversation", "detailed_description", "chest_xray", "mri", "histology", "ct_scan", "overall"], summary.Keys);
        Assert.Equal((2.0 + 4 + 8) / 3 / 8 * 100, (double)summary["conversation"]!["pred_relative_score"]!, 9);
        Assert.Equal(75.0, (double)summary["detailed_description"]!["pred_relative_score"]!, 9);
        Assert.Equal(62.5, (double)summary["overall"]!["pred_relative_score"]!, 9);
        Assert.Equal(4, JsonNode.Parse(File.ReadAllText(result))!["reviews"]!.AsArray().Count);

        var (again, rerunOutput, _) = CliRunner.Run(args);
        Assert.Equal(0, again);
        Assert.Equal(4, server.RequestCount);
        Assert.Contains("requests sent 0", rerunOutput);
    }

    [Fact]
    public void MissingAnswersAreOneClearError()
    {
        var questions = Path.Combine(temporary, "qa.jsonl");
        File.WriteAllText(questions, JudgeTests.QuestionLine + "\n");
        var answers = Path.Combine(temporary, "answers.jsonl");
        File.WriteAllText(answers, """{"question_id": 7, "text": "x"}""" + "\n");
        var (code, _, error) = CliRunner.Run("eval", "chat", "--questions", questions, "--answers", answers, "--judge-provider", "synthetic");
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains("no answer: 0", error);
    }
}
