using System.Text.Json.Nodes;
using LlavaMed.Data;
using Microsoft.Extensions.AI;

namespace LlavaMed.Evaluation.Judge;

/// <summary>The judge's verdict on one question: both scores when they could be read, the reply (the retry's when
/// one was needed), and the error otherwise.</summary>
public sealed record ChatReview(string QuestionId, string Type, string? Domain, double? ReferenceScore, double? ModelScore,
                                string JudgeReply, int Requests, string? Error)
{
    public bool Scored => ReferenceScore is not null && ModelScore is not null;

    public JsonObject ToJson() => new()
    {
        ["question_id"] = QuestionId,
        ["type"] = Type,
        ["domain"] = Domain,
        ["gpt4_score"] = ReferenceScore,
        ["pred_score"] = ModelScore,
        ["gpt_eval"] = JudgeReply,
        ["requests"] = Requests,
        ["error"] = Error,
    };
}

public sealed record JudgeProgress(int Done, int Total, int Failed);

public sealed record ChatJudgeResult(IReadOnlyList<ChatReview> Reviews, IReadOnlyList<RelativeScoreRow> Summary);

/// <summary>LLaVA-Med's GPT-judged chat evaluation (paper section 5.1, Table 4): for each question a judge model
/// scores the reference answer (GPT-4's, "Assistant 1") and the evaluated model's ("Assistant 2") from 1 to 10
/// given the figure's caption and context; <see cref="RelativeScores"/> summarises. A reply whose scores cannot be
/// read is asked once more (<see cref="JudgePrompt.BuildRetryMessages"/>), then recorded as a failure.</summary>
public sealed class ChatJudge(IChatClient client, JudgePrompt prompt, ChatOptions requestOptions)
{
    /// <summary>Pairs answers to questions by question_id (the reference zipped the two files by line order, which
    /// silently mis-pairs a filtered or reordered answer file). A question without an answer is an error.</summary>
    public static IReadOnlyList<(ChatQuestion Question, AnswerRecord Answer)> Pair(
        IReadOnlyList<ChatQuestion> questions, IReadOnlyList<AnswerRecord> answers, string answersPath)
    {
        var byId = new Dictionary<string, AnswerRecord>();
        foreach (var answer in answers)
            if (!byId.TryAdd(answer.QuestionId, answer))
                throw new DataFormatException(answersPath, "question_id", $"question_id {answer.QuestionId} is answered twice");
        var missing = questions.Where(q => !byId.ContainsKey(q.QuestionId)).Select(q => q.QuestionId).ToList();
        if (missing.Count > 0)
            throw new DataFormatException(answersPath, "question_id",
                $"{missing.Count} question(s) have no answer: {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? ", ..." : "")}");
        return questions.Select(q => (q, byId[q.QuestionId])).ToList();
    }

    public async Task<ChatJudgeResult> RunAsync(IReadOnlyList<(ChatQuestion Question, AnswerRecord Answer)> pairs,
                                                int concurrency = 4, IProgress<JudgeProgress>? progress = null,
                                                CancellationToken cancellationToken = default)
    {
        var reviews = new ChatReview[pairs.Count];
        int done = 0, failed = 0;
        var counting = new Lock();
        await Parallel.ForEachAsync(Enumerable.Range(0, pairs.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, concurrency), CancellationToken = cancellationToken },
            async (index, token) =>
            {
                var review = await ReviewAsync(pairs[index].Question, pairs[index].Answer.Text, token).ConfigureAwait(false);
                reviews[index] = review;
                lock (counting) // counts and reports together, so reports arrive in order
                {
                    if (!review.Scored) failed++;
                    progress?.Report(new JudgeProgress(++done, pairs.Count, failed));
                }
            }).ConfigureAwait(false);
        return new ChatJudgeResult(reviews, RelativeScores.Summarize(reviews));
    }

    public async Task<ChatReview> ReviewAsync(ChatQuestion question, string modelAnswer, CancellationToken cancellationToken = default)
    {
        ChatReview Review(string reply, int requests, (double, double)? scores, string? error) => new(
            question.QuestionId, question.Type, question.PrimaryDomain, scores?.Item1, scores?.Item2, reply, requests, error);
        string reply;
        try
        {
            reply = (await client.GetResponseAsync(prompt.BuildMessages(question, modelAnswer), requestOptions, cancellationToken)
                .ConfigureAwait(false)).Text.Trim();
            if (JudgeScores.TryParse(reply) is { } scores) return Review(reply, 1, scores, null);
            var retry = (await client.GetResponseAsync(prompt.BuildRetryMessages(question, modelAnswer, reply), requestOptions,
                                                       cancellationToken).ConfigureAwait(false)).Text.Trim();
            return JudgeScores.TryParse(retry) is { } second
                ? Review(retry, 2, second, null)
                : Review(retry, 2, null, "no scores on the first line of the reply, also after asking again");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Review("", 0, null, e.Message);
        }
    }
}
