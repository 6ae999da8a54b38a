using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Evaluation;
using LlavaMed.Evaluation.Judge;
using LlavaMed.Llm;
using LlavaMed.Workbench;
using Microsoft.Extensions.AI;

namespace LlavaMed.Cli;

/// <summary><c>llava-med eval chat</c>: the paper's GPT-judged open-ended chat evaluation (Table 4): relative score of
/// the model's answers to the reference (GPT-4) answers, overall, per question type and per domain.</summary>
public static class EvalChatCommand
{
    public static Command Create()
    {
        var questions = new Option<string>("--questions") { Description = "questions JSONL (llava_med_eval_qa50_qa.jsonl layout)", Required = true };
        var answers = new Option<string>("--answers") { Description = "the model's answers (LLaVA answer-file JSONL), matched by question_id", Required = true };
        var judgePrompt = new Option<string?>("--judge-prompt")
        {
            Description = "judge wording JSON (system, instruction, figure_context, keep_image_marker); e.g. the paper's text",
        };
        var output = new Option<string?>("--output") { Description = "result JSON: summary table and every review" };
        var judge = new ProviderCliOptions("judge-", "openai");
        var command = new Command("chat", "Score a model's chat answers against the reference answers with an LLM judge (paper Table 4)")
        {
            questions, answers, judgePrompt, output,
        };
        foreach (var option in judge.All) command.Options.Add(option);
        command.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            var pairs = ChatJudge.Pair(ChatQuestion.ReadJsonl(parse.GetValue(questions)!),
                                       AnswerRecord.ReadJsonl(parse.GetValue(answers)!), parse.GetValue(answers)!);
            var providerOptions = judge.Resolve(parse);
            using var client = ChatClientFactory.Create(providerOptions);
            var prompt = JudgePrompt.Load(parse.GetValue(judgePrompt));
            stderr.WriteLine($"questions: {pairs.Count}; judge: {judge.Describe(providerOptions)}");
            var step = Math.Max(1, pairs.Count / 10);
            var progress = new InlineProgress<JudgeProgress>(p =>
            {
                if (p.Done % step == 0 || p.Done == p.Total) stderr.WriteLine($"[{p.Done}/{p.Total}] reviewed, {p.Failed} without scores");
            });
            var result = new ChatJudge(client, prompt, ChatClientFactory.RequestOptions(providerOptions))
                .RunAsync(pairs, parse.GetValue(judge.Concurrency), progress).GetAwaiter().GetResult();

            foreach (var failed in result.Reviews.Where(r => !r.Scored).Take(20))
                stderr.WriteLine($"no scores for question {failed.QuestionId}: {failed.Error}");
            stdout.WriteLine(FormatTable(result.Summary));
            var excluded = RelativeScores.Excluded(result.Reviews);
            if (excluded > 0) stdout.WriteLine($"{excluded} question(s) left out: no scores or a reference score of 0");
            if (parse.GetValue(output) is { } path)
            {
                WriteResult(path, result, providerOptions, parse.GetValue(judgePrompt));
                stdout.WriteLine($"wrote {path}");
            }
            var sent = client.GetService<RetryingChatClient>();
            stdout.WriteLine($"requests sent {sent?.Requests ?? 0} (retries {sent?.Retries ?? 0}); others answered from the cache");
            return result.Summary.Count == 0 ? 1 : 0;
        }));
        return command;
    }

    /// <summary>The paper's Table 4 transposed: one row per category.</summary>
    public static string FormatTable(IReadOnlyList<RelativeScoreRow> rows)
    {
        var lines = new List<string> { $"{"category",-22}{"n",6}{"reference",11}{"model",8}{"relative %",12}" };
        lines.AddRange(rows.Select(r => string.Create(CultureInfo.InvariantCulture,
            $"{r.Category,-22}{r.Count,6}{r.ReferenceScore,11:F2}{r.ModelScore,8:F2}{r.RelativeScore,12:F1}")));
        return string.Join(Environment.NewLine, lines);
    }

    static void WriteResult(string path, ChatJudgeResult result, ProviderOptions judge, string? promptPath)
    {
        var json = new JsonObject
        {
            ["judge"] = new JsonObject
            {
                ["provider"] = ProviderOptions.ProviderName(judge.Provider),
                ["model"] = judge.ResolvedModel,
                ["prompt"] = Data.SelfInstruct.PromptResources.Source(Data.SelfInstruct.PromptResources.JudgeChat, promptPath),
            },
            ["relative_score"] = "100 x mean over questions of (model score / reference score), as summarize_gpt_review.py",
            ["summary"] = new JsonArray(result.Summary.Select(r => (JsonNode)r.ToJson()).ToArray()),
            ["excluded"] = RelativeScores.Excluded(result.Reviews),
            ["reviews"] = new JsonArray(result.Reviews.Select(r => (JsonNode)r.ToJson()).ToArray()),
        };
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
