using System.Text;
using LlavaMed.Data;
using LlavaMed.Evaluation;
using LlavaMed.Images;
using LlavaMed.Inference;

namespace LlavaMed.Tests.Inference;

public sealed class BatchPredictorTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-predict-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    static LlavaPipeline LoadFixture() =>
        LlavaPipeline.Load(SharedFixtures.V15Tiny, new PipelineOptions { TokenizerFolder = SharedFixtures.Tokenizer });

    static PredictionOptions Options(LlavaPipeline pipeline, int batchSize, int maxNewTokens = 12) => new()
    {
        BatchSize = batchSize,
        ModelId = "llava-med-v1.5-tiny",
        Generation = pipeline.DefaultGenerationOptions(maxNewTokens),
    };

    string Predict(LlavaPipeline pipeline, string questions, string name, int batchSize)
    {
        var answers = Path.Combine(temporary, name);
        var plan = BatchPredictor.Plan(LlavaSample.ReadJsonArray(questions), VqaRadQuestions.ImageRoot, answers);
        foreach (var _ in BatchPredictor.AnsweredBatches(pipeline, plan, Options(pipeline, batchSize))) { }
        return answers;
    }

    [Fact]
    public void BatchOfThreeGivesTheAnswersOfOneByOneAndOfTheSingleQuestionPipeline()
    {
        using var pipeline = LoadFixture();
        var questions = VqaRadQuestions.Write(temporary, 5);
        var single = AnswerRecord.ReadJsonl(Predict(pipeline, questions, "batch1.jsonl", batchSize: 1));
        var batched = AnswerRecord.ReadJsonl(Predict(pipeline, questions, "batch3.jsonl", batchSize: 3));

        var samples = LlavaSample.ReadJsonArray(questions);
        Assert.Equal(samples.Select(s => s.Id), single.Select(r => r.QuestionId));
        Assert.Equal(single.Select(r => (r.QuestionId, r.Prompt, r.Text)), batched.Select(r => (r.QuestionId, r.Prompt, r.Text)));
        foreach (var record in batched) Log($"{record.QuestionId}: {record.Prompt} -> {record.Text}");
        // model_vqa.py's layout: the prompt field is the bare question; the answer is what the one-question pipeline
        // (LlavaPipeline.BuildPrompt: image first, then the question) answers, stripped.
        var first = samples[0];
        Assert.Equal("Is there evidence of an aortic aneurysm?", batched[0].Prompt);
        var image = RgbImage.Load(Path.Combine(VqaRadQuestions.ImageRoot, first.Image!));
        Assert.Equal(pipeline.Ask(image, first.Question, pipeline.DefaultGenerationOptions(12)).Trim(), batched[0].Text);
        Assert.Equal("llava-med-v1.5-tiny", batched[0].ModelId);
        Assert.Equal(5, batched.Select(r => r.AnswerId).Distinct().Count());
    }

    [Fact]
    public void ProgressCarriesCountsAndThroughput()
    {
        using var pipeline = LoadFixture();
        var questions = VqaRadQuestions.Write(temporary, 5);
        var plan = BatchPredictor.Plan(LlavaSample.ReadJsonArray(questions), VqaRadQuestions.ImageRoot,
                                       Path.Combine(temporary, "answers.jsonl"));
        var progress = BatchPredictor.AnsweredBatches(pipeline, plan, Options(pipeline, batchSize: 3)).ToList();

        Assert.Equal([3, 5], progress.Select(p => p.Answered));
        Assert.All(progress, p => Assert.Equal(5, p.ToAnswer));
        Assert.Equal([false, true], progress.Select(p => p.IsComplete));
        var last = progress[^1];
        var written = AnswerRecord.ReadJsonl(plan.AnswersFile);
        Assert.Equal(written.Sum(r => (long)r.Metadata!["generated_tokens"]!), last.GeneratedTokens);
        Assert.True(last.GeneratedTokens > 0);
        Assert.True(last.Elapsed > TimeSpan.Zero);
        Assert.True(last.QuestionsPerSecond > 0 && last.TokensPerSecond > 0);
        Assert.Equal(last.GeneratedTokens / last.Elapsed.TotalSeconds, last.TokensPerSecond, 6);
        Assert.All(written, r => Assert.Contains((string)r.Metadata!["finish_reason"]!, new[] { "EndOfSequence", "StopString", "MaxNewTokens" }));
        Assert.All(written, r => Assert.Equal("float32", (string)r.Metadata!["dtype"]!));
    }

    [Fact]
    public void ResumeAnswersOnlyTheRestAndReplacesATruncatedLastLine()
    {
        using var pipeline = LoadFixture();
        var questions = VqaRadQuestions.Write(temporary, 5);
        var referenceFile = Predict(pipeline, questions, "reference.jsonl", batchSize: 2);
        var reference = File.ReadAllLines(referenceFile);

        // A run that crashed while writing its third record.
        var answers = Path.Combine(temporary, "answers.jsonl");
        var head = reference[0] + "\n" + reference[1] + "\n";
        File.WriteAllText(answers, head + reference[2][..(reference[2].Length / 2)], new UTF8Encoding(false));
        var plan = BatchPredictor.Plan(LlavaSample.ReadJsonArray(questions), VqaRadQuestions.ImageRoot, answers);
        Assert.Equal(2, plan.AlreadyAnswered);
        Assert.NotNull(plan.Existing.PartialLastLine);
        Assert.Equal(3, plan.Pending.Count);

        var progress = BatchPredictor.AnsweredBatches(pipeline, plan, Options(pipeline, batchSize: 2)).ToList();
        Assert.Equal(3, progress[^1].Answered);
        var resumed = File.ReadAllLines(answers);
        Assert.StartsWith(head, File.ReadAllText(answers));
        var records = AnswerRecord.ReadJsonl(answers);
        var expected = AnswerRecord.ReadJsonl(referenceFile);
        Assert.Equal(5, resumed.Length);
        Assert.Equal(expected.Select(r => (r.QuestionId, r.Text)), records.Select(r => (r.QuestionId, r.Text)));

        // Nothing left: a further run has no work.
        var again = BatchPredictor.Plan(LlavaSample.ReadJsonArray(questions), VqaRadQuestions.ImageRoot, answers);
        Assert.Empty(again.Pending);
        Assert.Empty(BatchPredictor.AnsweredBatches(pipeline, again));
    }

    [Fact]
    public void ACompleteLastRecordWithoutNewlineIsKeptAndTerminated()
    {
        var answers = Path.Combine(temporary, "answers.jsonl");
        File.WriteAllText(answers, "{\"question_id\": 11, \"text\": \"yes\"}\n{\"question_id\": \"13\", \"text\": \"no\"}");
        var existing = AnswerFileResume.Read(answers);
        Assert.Equal(new HashSet<string> { "11", "13" }, existing.QuestionIds);
        Assert.True(existing.UnterminatedLastLine);
        Assert.Null(existing.PartialLastLine);
        AnswerFileResume.PrepareForAppend(answers, existing);
        Assert.EndsWith("\"no\"}\n", File.ReadAllText(answers));
    }

    [Fact]
    public void ATruncatedMultibyteCharacterIsCutInBytes()
    {
        var answers = Path.Combine(temporary, "answers.jsonl");
        var complete = Encoding.UTF8.GetBytes("{\"question_id\": \"1\", \"text\": \"ok\"}\n");
        var partial = Encoding.UTF8.GetBytes("{\"question_id\": \"2\", \"text\": \"é");
        File.WriteAllBytes(answers, [.. complete, .. partial[..^1]]);   // stopped inside the 2-byte é
        var existing = AnswerFileResume.Read(answers);
        Assert.Equal(["1"], existing.QuestionIds);
        AnswerFileResume.PrepareForAppend(answers, existing);
        Assert.Equal(complete, File.ReadAllBytes(answers));
    }

    [Fact]
    public void AMalformedLineBeforeTheLastIsAnErrorNamingTheLine()
    {
        var answers = Path.Combine(temporary, "answers.jsonl");
        File.WriteAllText(answers, "{\"question_id\": 1}\nnot json\n{\"question_id\": 2}\n");
        var error = Assert.Throws<DataFormatException>(() => AnswerFileResume.Read(answers));
        Assert.Equal("line 2", error.Location);
        File.WriteAllText(answers, "{\"text\": \"no id\"}\n");
        Assert.Contains("question_id", Assert.Throws<DataFormatException>(() => AnswerFileResume.Read(answers)).Message);
    }

    [Fact]
    public void MissingImagesAreNamedBeforeAnyGeneration()
    {
        var questions = VqaRadQuestions.Write(temporary, 4, record =>
        {
            if ((string)record["id"]! == "13") record["image"] = "no-such-image.jpg";
            return record;
        });
        var answers = Path.Combine(temporary, "answers.jsonl");
        var error = Assert.Throws<FileNotFoundException>(() =>
            BatchPredictor.Plan(LlavaSample.ReadJsonArray(questions), VqaRadQuestions.ImageRoot, answers));
        Log(error.Message);
        Assert.Contains("1 of 4 images not found", error.Message);
        Assert.Contains("no-such-image.jpg (question 13)", error.Message);
        Assert.False(File.Exists(answers));
    }

    [Fact]
    public void RepeatedQuestionIdsAreRefused()
    {
        var questions = VqaRadQuestions.Write(temporary, 3, record => { record["id"] = "same"; return record; });
        var error = Assert.Throws<ArgumentException>(() =>
            BatchPredictor.Plan(LlavaSample.ReadJsonArray(questions), VqaRadQuestions.ImageRoot, Path.Combine(temporary, "a.jsonl")));
        Assert.Contains("repeated: same", error.Message);
    }

    [Theory]
    [InlineData("/models/llava-med-v1.5-mistral-7b", "llava-med-v1.5-mistral-7b")]
    [InlineData("/runs/vqa-rad/checkpoint-500/", "vqa-rad_checkpoint-500")]
    public void ModelIdIsTheFolderNameAsLlavaWritesIt(string folder, string expected) =>
        Assert.Equal(expected, BatchPredictor.ModelIdFromPath(folder));

    /// <summary>Throughput on the tiny fixture model at batch sizes 1 and 8 (a benchmark, not a timed test):
    /// <c>dotnet test --filter FullyQualifiedName~PredictionThroughputBenchmark -- xUnit.Explicit=on</c>.</summary>
    [Fact(Explicit = true)]
    public void PredictionThroughputBenchmark()
    {
        using var pipeline = LoadFixture();
        var questions = LlavaSample.ReadJsonArray(VqaRadQuestions.Write(temporary, 48));
        var items = BatchPredictor.Plan(questions, VqaRadQuestions.ImageRoot, Path.Combine(temporary, "none.jsonl")).Pending;
        foreach (var _ in BatchPredictor.Answer(pipeline, items.Take(8).ToList(), Options(pipeline, 8, 32))) { }   // warm-up
        foreach (var batchSize in new[] { 1, 8 })
        {
            var last = BatchPredictor.Answer(pipeline, items, Options(pipeline, batchSize, 32)).Last();
            Log($"batch {batchSize}: {last.Answered} questions, {last.GeneratedTokens} tokens in {last.Elapsed.TotalSeconds:F2} s: "
                + $"{last.QuestionsPerSecond:F2} questions/s, {last.TokensPerSecond:F1} tokens/s "
                + $"({Environment.ProcessorCount} cores, TorchSharp threads {TorchSharp.torch.get_num_threads()})");
        }
    }
}
