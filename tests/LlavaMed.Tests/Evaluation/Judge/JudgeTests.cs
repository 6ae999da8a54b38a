using System.Text.Json.Nodes;
using LlavaMed.Data;
using LlavaMed.Evaluation;
using LlavaMed.Evaluation.Judge;
using LlavaMed.Llm;
using LlavaMed.Tests.Llm;

namespace LlavaMed.Tests.Evaluation.Judge;

public sealed class JudgeTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-judge-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    /// <summary>Line 1 of the released llava_med_eval_qa50_qa.jsonl, shortened.</summary>
    internal const string QuestionLine =
        """{"question_id": 0, "image": "18063892_F3.jpg", "pair_id": "18063892_F3", "text": "What is the organ in the image?\n<image>","""
        + """ "gpt4_answer": "The organ in the image is the conjunctiva.","""
        + """ "fig_caption": "The gross histopathologic finding disclosed the portion of conjunctiva. (H & E stain, \u00d7100)","""
        + """ "in_text_mention": [{"tokens": "Inflammatory cells were not found in the vicinity ( Fig. 3 , 4 , 5 ) .", "entities": [{"type": "figure","""
        + """ "entity_id": "3", "start_tok": 9, "end_tok": 11}]}], "domain": {"chest_xray": false, "mri": false, "ct_scan": false, "histology": true, "gross": true},"""
        + """ "type": "conversation", "fig_label": "Fig. 3"}""";

    static ChatQuestion Question => ChatQuestion.FromJson(JsonNode.Parse(QuestionLine), "qa50.jsonl", "line 1");

    [Fact]
    public void QuestionRecordReadsTheReleasedLayout()
    {
        var question = Question;
        Assert.Equal(("0", "conversation", "histology"), (question.QuestionId, question.Type, question.PrimaryDomain));
        Assert.Equal(["Inflammatory cells were not found in the vicinity ( Fig. 3 , 4 , 5 ) ."], question.Mentions);
    }

    [Fact]
    public void ReviewRequestHasThePapersLayout()
    {
        var prompt = new JudgePrompt("SYSTEM", "INSTRUCTION");
        var messages = prompt.BuildMessages(Question, "It is the conjunctiva.");
        Assert.Equal(2, messages.Count);
        Assert.Equal("SYSTEM", messages[0].Text);
        Assert.Equal(
            "[Context]\nFigure Caption:\nFig. 3: The gross histopathologic finding disclosed the portion of conjunctiva. (H & E stain, ×100)\n\n"
            + "Figure Context:\n\t- Inflammatory cells were not found in the vicinity ( Fig. 3 , 4 , 5 ) .\n\n"
            + "[Question]\nWhat is the organ in the image?\n\n"
            + "[Assistant 1]\nThe organ in the image is the conjunctiva.\n\n[End of Assistant 1]\n\n"
            + "[Assistant 2]\nIt is the conjunctiva.\n\n[End of Assistant 2]\n\n"
            + "[System]\nINSTRUCTION\n\n",
            messages[1].Text);
    }

    [Fact]
    public void PaperModeReproducesWhatItsScriptSent()
    {
        // eval_multimodal_chat_gpt_score.py put the raw in_text_mention list into an f-string and the question text
        // with its <image> marker; expected text from Python 3.11's repr of the parsed JSON.
        var path = Path.Combine(temporary, "paper.json");
        File.WriteAllText(path, """{"system": "'You are a helpful and precise assistant.", "instruction": "I", "figure_context": "python-repr", "keep_image_marker": true}""");
        var review = JudgePrompt.Load(path).FormatReview(Question, "A");
        Assert.Contains("Figure Context:\n\t- [{'tokens': 'Inflammatory cells were not found in the vicinity ( Fig. 3 , 4 , 5 ) .', "
                        + "'entities': [{'type': 'figure', 'entity_id': '3', 'start_tok': 9, 'end_tok': 11}]}]\n\n", review);
        Assert.Contains("[Question]\nWhat is the organ in the image?\n<image>\n\n", review);
        Assert.Equal("'You are a helpful and precise assistant.", JudgePrompt.Load(path).System);
    }

    [Fact]
    public void PythonReprMatchesPython()
    {
        var value = JsonNode.Parse("""["it's \\ a \"q\"", "it's", "tab\there", 1.0, 2.5, 1e-05, 1e20, 3, true, false, null, "\u00d7100", {"k": [1, "x"]}]""");
        // python3 -c 'import json; print(repr(json.loads(...)))'
        Assert.Equal("""['it\'s \\ a "q"', "it's", 'tab\there', 1.0, 2.5, 1e-05, 1e+20, 3, True, False, None, '×100', {'k': [1, 'x']}]""",
                     PythonRepr.Format(value));
    }

    [Theory]
    [InlineData("8 7\nAssistant 1 was more detailed.", 8, 7)]
    [InlineData("9.5 6\n", 9.5, 6)]
    [InlineData("8, 6\nBoth were fine.", 8, 6)]
    [InlineData("**8 7**\nExplanation", 8, 7)]
    [InlineData("\n\n7 5\nleading blank lines", 7, 5)]
    [InlineData("8/10 4/10\nexplained", 8, 4)]
    [InlineData("Assistant 1: 9\nAssistant 2: 3\nbecause...", 9, 3)]
    [InlineData("Scores: Assistant 1 - 7, Assistant 2 - 8", 7, 8)]
    public void ScoresAreReadRobustly(string reply, double reference, double model) =>
        Assert.Equal((reference, model), JudgeScores.TryParse(reply));

    [Theory]
    [InlineData("")]
    [InlineData("Assistant 1 gave a good answer, but Assistant 2 missed the point.")]
    [InlineData("8\nonly one score")]
    [InlineData("8 7 6\nthree numbers")]
    [InlineData("80 70\nout of range")]
    public void MalformedScoresAreRejected(string reply) => Assert.Null(JudgeScores.TryParse(reply));

    static ChatReview Review(string id, string type, string? domain, double reference, double model) =>
        new(id, type, domain, reference, model, $"{reference} {model}", 1, null);

    [Fact]
    public void RelativeScoreIsTheMeanOfRatiosAsInTheReference()
    {
        ChatReview[] reviews =
        [
            Review("0", "conversation", "histology", 10, 5),
            Review("1", "conversation", "mri", 5, 5),
            Review("2", "detailed_description", "histology", 8, 2),
            new("3", "conversation", "ct_scan", null, null, "gibberish", 2, "no scores"),
            Review("4", "conversation", "ct_scan", 0, 3),
        ];
        var rows = RelativeScores.Summarize(reviews).ToDictionary(r => r.Category);
        Assert.Equal(["conversation", "detailed_description", "mri", "histology", "overall"], RelativeScores.Summarize(reviews).Select(r => r.Category));
        var overall = rows["overall"];
        Assert.Equal(3, overall.Count);
        Assert.Equal(23.0 / 3, overall.ReferenceScore, 9);
        Assert.Equal(4.0, overall.ModelScore, 9);
        // mean(5/10, 5/5, 2/8) x 100 = 58.33..., not the ratio of means 4 / 7.67 x 100 = 52.17...
        Assert.Equal((0.5 + 1.0 + 0.25) / 3 * 100, overall.RelativeScore, 9);
        Assert.Equal(4.0 / (23.0 / 3) * 100, overall.RatioOfMeans, 9);
        Assert.Equal(75.0, rows["conversation"].RelativeScore, 9);
        Assert.Equal((0.5 + 0.25) / 2 * 100, rows["histology"].RelativeScore, 9);
        Assert.Equal(2, RelativeScores.Excluded(reviews));
    }

    [Fact]
    public void AnswersArePairedByQuestionIdNotByLine()
    {
        ChatQuestion[] questions = [Question, Question with { QuestionId = "1" }];
        AnswerRecord[] answers = [new("1", "", "second", "", "m"), new("0", "", "first", "", "m")];
        var pairs = ChatJudge.Pair(questions, answers, "answers.jsonl");
        Assert.Equal(["first", "second"], pairs.Select(p => p.Answer.Text));
        var missing = Assert.Throws<DataFormatException>(() => ChatJudge.Pair(questions, answers[..1], "answers.jsonl"));
        Assert.Contains("no answer: 0", missing.Message);
        Assert.Throws<DataFormatException>(() => ChatJudge.Pair(questions, [.. answers, answers[0]], "answers.jsonl"));
    }

    ProviderOptions Judge(OpenAIProtocolServer server) => new()
    {
        Provider = ChatProvider.OpenAI, Model = "gpt-4-judge", Endpoint = server.OpenAIBase, ApiKey = "sk-test",
        CacheFolder = Path.Combine(temporary, "cache"), BaseRetryDelay = TimeSpan.FromMilliseconds(5),
    };

    [Fact]
    public async Task JudgeAsksOnceMoreWhenScoresAreMissingThroughARealClient()
    {
        using var server = new OpenAIProtocolServer((request, _) =>
        {
            var messages = request.Body["messages"]!.AsArray();
            var isRetry = messages.Count == 4;
            var answer = request.LastUserText;
            if (isRetry) return ServerReply.Ok("7 6\nRestated.");
            if (answer.Contains("[Assistant 2]\nbroken")) return ServerReply.Ok("Both answers are reasonable.");
            if (answer.Contains("[Assistant 2]\nhopeless")) return ServerReply.Ok("I cannot score this.");
            return ServerReply.Ok("8 4\nAssistant 2 is vaguer.");
        });
        var options = Judge(server);
        using var client = ChatClientFactory.Create(options);
        var judge = new ChatJudge(client, JudgePrompt.Load(), ChatClientFactory.RequestOptions(options));
        var token = TestContext.Current.CancellationToken;

        var good = await judge.ReviewAsync(Question, "fine", token);
        Assert.Equal((8.0, 4.0, 1), (good.ReferenceScore!.Value, good.ModelScore!.Value, good.Requests));
        var retried = await judge.ReviewAsync(Question, "broken", token);
        Assert.Equal((7.0, 6.0, 2), (retried.ReferenceScore!.Value, retried.ModelScore!.Value, retried.Requests));
        var retryRequest = server.Requests.Last();
        Assert.Equal(["system", "user", "assistant", "user"], retryRequest.Body["messages"]!.AsArray().Select(m => (string)m!["role"]!));
        Assert.Equal(3, server.RequestCount);

        // The retry's reply is cached too: asking again for the same review costs nothing.
        await judge.ReviewAsync(Question, "broken", token);
        Assert.Equal(3, server.RequestCount);
    }

    [Fact]
    public async Task AnUnreadableReviewIsRecordedAsAFailure()
    {
        using var server = new OpenAIProtocolServer((_, _) => ServerReply.Ok("I would rather not give numbers."));
        var options = Judge(server);
        using var client = ChatClientFactory.Create(options);
        var judge = new ChatJudge(client, JudgePrompt.Load(), ChatClientFactory.RequestOptions(options));
        var result = await judge.RunAsync([(Question, new AnswerRecord("0", "", "x", "", "m"))],
                                          cancellationToken: TestContext.Current.CancellationToken);
        var review = Assert.Single(result.Reviews);
        Assert.False(review.Scored);
        Assert.Contains("no scores", review.Error);
        Assert.Equal(2, server.RequestCount);
        Assert.Empty(result.Summary);
    }
}
