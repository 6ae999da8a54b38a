using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using LlavaMed.Data;
using LlavaMed.Evaluation;
using LlavaMed.Images;
using LlavaMed.Models;

namespace LlavaMed.Inference;

/// <summary>How to answer a question file. <see cref="Generation"/> defaults to LLaVA-Med v1.5's evaluation
/// setting: greedy, the template's stop string, at most 1024 new tokens (model_vqa.py's limit).</summary>
public sealed record PredictionOptions
{
    public int BatchSize { get; init; } = 1;
    public GenerationOptions? Generation { get; init; }
    /// <summary>The answer file's <c>model_id</c> (LLaVA writes <see cref="BatchPredictor.ModelIdFromPath"/> of the
    /// model folder).</summary>
    public string ModelId { get; init; } = "llava-med";
}

/// <summary>A question to answer and its resolved image file.</summary>
public sealed record PredictionItem(LlavaSample Question, string ImagePath);

/// <summary>The work of one run: the questions still to answer (in file order) and what the answer file held.</summary>
public sealed record PredictionPlan(string AnswersFile, int TotalQuestions, IReadOnlyList<PredictionItem> Pending,
                                    ExistingAnswers Existing, int AnswersNotInQuestions)
{
    public int AlreadyAnswered => TotalQuestions - Pending.Count;
}

/// <summary>Progress after a batch: counts and throughput of this run (model loading excluded; image loading,
/// preprocessing and generation included), and the batch's new answers.</summary>
public sealed record PredictionProgress(int Answered, int ToAnswer, long GeneratedTokens, TimeSpan Elapsed,
                                        IReadOnlyList<AnswerRecord> NewAnswers)
{
    public bool IsComplete => Answered == ToAnswer;
    public double QuestionsPerSecond => Answered / Math.Max(Elapsed.TotalSeconds, 1e-9);
    /// <summary>Generated tokens (without the stopping EOS) per second.</summary>
    public double TokensPerSecond => GeneratedTokens / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>Answers a LLaVA-Med downstream question file (VQA-RAD / SLAKE / PathVQA <c>test.json</c>) the way
/// LLaVA-Med's <c>model_vqa.py</c> does, in left-padded batches, writing LLaVA's answer-file JSONL and resuming
/// an interrupted run.</summary>
public static class BatchPredictor
{
    /// <summary>Resolves every question's image under <paramref name="imageRoot"/> and reads what
    /// <paramref name="answersFile"/> already answers. Fails before any generation when a question has no image,
    /// an image file is missing (all are named, up to 10) or question ids repeat.</summary>
    public static PredictionPlan Plan(IReadOnlyList<LlavaSample> questions, string imageRoot, string answersFile)
    {
        if (!Directory.Exists(imageRoot)) throw new DirectoryNotFoundException($"image root not found: {imageRoot}");
        var repeated = questions.GroupBy(q => q.Id).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (repeated.Count > 0)
            throw new ArgumentException($"question ids must be unique to resume by id; repeated: {Listing(repeated)}");
        var noImage = questions.Where(q => string.IsNullOrWhiteSpace(q.Image)).Select(q => q.Id).ToList();
        if (noImage.Count > 0) throw new ArgumentException($"{noImage.Count} questions have no 'image': ids {Listing(noImage)}");
        var items = questions.Select(q => new PredictionItem(q, Path.Combine(imageRoot, q.Image!))).ToList();
        var missing = items.Where(i => !File.Exists(i.ImagePath)).Select(i => $"{i.ImagePath} (question {i.Question.Id})").ToList();
        if (missing.Count > 0)
            throw new FileNotFoundException($"{missing.Count} of {items.Count} images not found under {imageRoot}: {Listing(missing)}");

        var existing = AnswerFileResume.Read(answersFile);
        var ids = questions.Select(q => q.Id).ToHashSet();
        return new PredictionPlan(answersFile, questions.Count,
                                  items.Where(i => !existing.QuestionIds.Contains(i.Question.Id)).ToList(),
                                  existing, existing.QuestionIds.Count(id => !ids.Contains(id)));
    }

    /// <summary>Answers the plan's pending questions batch by batch as the sequence is enumerated (nothing runs
    /// before), appending each batch's records to its answer file (flushed per batch, so an interrupted run resumes
    /// after the last complete batch), and yields progress per batch.</summary>
    public static IEnumerable<PredictionProgress> AnsweredBatches(LlavaPipeline pipeline, PredictionPlan plan, PredictionOptions? options = null)
    {
        if (plan.Pending.Count == 0) yield break;
        var directory = Path.GetDirectoryName(Path.GetFullPath(plan.AnswersFile))!;
        Directory.CreateDirectory(directory);
        if (File.Exists(plan.AnswersFile)) AnswerFileResume.PrepareForAppend(plan.AnswersFile, plan.Existing);
        using var writer = new StreamWriter(plan.AnswersFile, append: true, new UTF8Encoding(false)) { NewLine = "\n" };
        foreach (var progress in Answer(pipeline, plan.Pending, options ?? new PredictionOptions()))
        {
            foreach (var record in progress.NewAnswers) writer.WriteLine(record.ToJson().ToJsonString());
            writer.Flush();
            yield return progress;
        }
    }

    /// <summary>Answers questions in batches of <see cref="PredictionOptions.BatchSize"/>, in order, without
    /// writing anything. Each question's prompt is <see cref="LlavaPipeline.BuildPrompt(string)"/> of its first
    /// human turn without the image marker; the record's <c>prompt</c> is that question and its <c>text</c> the
    /// stripped answer (as model_vqa.py writes them); <c>metadata</c> holds generated_tokens, finish_reason and the model's dtype.</summary>
    public static IEnumerable<PredictionProgress> Answer(LlavaPipeline pipeline, IReadOnlyList<PredictionItem> items,
                                                         PredictionOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BatchSize);
        var generation = options.Generation ?? pipeline.DefaultGenerationOptions(maxNewTokens: 1024);
        var clock = Stopwatch.StartNew();
        int answered = 0;
        long generatedTokens = 0;
        foreach (var batch in items.Chunk(options.BatchSize))
        {
            var images = batch.Select(i => RgbImage.Load(i.ImagePath)).ToList();
            var questions = batch.Select(i => i.Question.Question).ToList();
            var results = pipeline.GenerateBatch(images, questions.Select(pipeline.BuildPrompt).ToList(), generation);
            var records = batch.Select((item, row) => new AnswerRecord(
                item.Question.Id, questions[row], (results[row].Text ?? "").Trim(), Guid.NewGuid().ToString("N"), options.ModelId,
                new JsonObject
                {
                    ["generated_tokens"] = results[row].Tokens.Length,
                    ["finish_reason"] = results[row].Reason.ToString(),
                    ["dtype"] = PlacementPlanner.Name(pipeline.Model.ParameterDtype),
                })).ToList();
            answered += batch.Length;
            generatedTokens += results.Sum(r => (long)r.Tokens.Length);
            yield return new PredictionProgress(answered, items.Count, generatedTokens, clock.Elapsed, records);
        }
    }

    /// <summary>LLaVA's <c>get_model_name_from_path</c>: the folder name, or <c>parent_checkpoint-N</c> for a
    /// trainer checkpoint folder.</summary>
    public static string ModelIdFromPath(string modelFolder)
    {
        var parts = Path.GetFullPath(modelFolder).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar)
            .Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        return parts[^1].StartsWith("checkpoint-", StringComparison.Ordinal) && parts.Length > 1
            ? $"{parts[^2]}_{parts[^1]}"
            : parts[^1];
    }

    static string Listing(IReadOnlyList<string> values) =>
        string.Join(", ", values.Take(10)) + (values.Count > 10 ? $", ... ({values.Count - 10} more)" : "");
}
