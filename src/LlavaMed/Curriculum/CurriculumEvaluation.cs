using System.Text.Json.Nodes;
using LlavaMed.Data;
using LlavaMed.Evaluation;
using LlavaMed.Images;
using LlavaMed.Inference;
using LlavaMed.Models;
using LlavaMed.Text;

namespace LlavaMed.Curriculum;

/// <summary>A question, its reference and a model's answer, for the report's examples.</summary>
public sealed record ExampleAnswer(string Image, string Question, string Reference, string Answer);

/// <summary>Mean scores of free-text answers against references (strict token F1 and NLTK sentence BLEU-4,
/// smoothing off, as the paper's captioning numbers are computed), with a few examples.</summary>
public sealed record TextScores(int Count, double TokenF1, double Bleu, IReadOnlyList<ExampleAnswer> Examples)
{
    public JsonObject ToJson() => new() { ["n"] = Count, ["token_f1"] = TokenF1, ["bleu"] = Bleu };
}

/// <summary>What one model scored: VQA in both metric sets, captions (the <c>plain</c> template: the image
/// alone), chat answers on the qa50-style set, and examples of VQA answers.</summary>
public sealed record StageEvaluation(VqaReport Vqa, TextScores Captions, TextScores Chat, IReadOnlyList<ExampleAnswer> VqaExamples,
                                     IReadOnlyList<AnswerRecord> VqaAnswers)
{
    /// <summary>llava-med-v1 closed accuracy (run_eval.py at v1.0.0): a hit says yes or no and contains the reference;
    /// every closed question counts.</summary>
    public double ClosedAccuracy => Vqa.LlavaMedV1!.ClosedAccuracy;
    /// <summary>Closed accuracy over every closed question (chance 0.5 for yes/no).</summary>
    public double StrictClosedAccuracy => Vqa.Strict!.ClosedAccuracy ?? 0;
    public double OpenRecall => Vqa.LlavaMedV1!.OpenRecall ?? 0;
}


public static class CurriculumEvaluation
{
    public const int VqaMaxNewTokens = 16;
    public const int FreeTextMaxNewTokens = 48;
    const int BatchSize = 64;
    const int Examples = 6;

    /// <summary>Evaluates the model in <paramref name="modelFolder"/>; the VQA answers are written to
    /// <paramref name="answersFile"/> (LLaVA's answer-file JSONL) for inspection and <c>llava-med eval vqa</c>.</summary>
    public static StageEvaluation Evaluate(string modelFolder, EvaluationSet set, string answersFile, Checkpoints.LoadOptions? load = null)
    {
        using var pipeline = LlavaPipeline.Load(modelFolder, new PipelineOptions
        {
            Template = ConversationTemplate.MistralInstruct.Name, Load = load ?? new Checkpoints.LoadOptions(),
        });
        var answers = Answer(pipeline, set.VqaTest, set.VqaImageRoot, VqaMaxNewTokens);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(answersFile))!);
        File.WriteAllLines(answersFile, answers.Select(a => a.ToJson().ToJsonString()));
        var vqa = VqaEvaluation.Evaluate(set.VqaTest, answers);
        var examples = ExampleIndices(set.VqaTest).Select(i => new ExampleAnswer(Path.Combine(set.VqaImageRoot, set.VqaTest[i].Image!),
            set.VqaTest[i].Question, set.VqaTest[i].Answer, answers[i].Text)).ToList();
        var chat = Score(set.Chat, Answer(pipeline, set.Chat, set.FigureImageRoot, FreeTextMaxNewTokens), set.FigureImageRoot);
        var captions = Score(set.Captions, Caption(pipeline, set.Captions, set.FigureImageRoot), set.FigureImageRoot);
        return new StageEvaluation(vqa, captions, chat, examples, answers);
    }

    static IReadOnlyList<AnswerRecord> Answer(LlavaPipeline pipeline, IReadOnlyList<LlavaSample> questions, string imageRoot, int maxNewTokens)
    {
        var items = questions.Select(q => new PredictionItem(q, Path.Combine(imageRoot, q.Image!))).ToList();
        var options = new PredictionOptions { BatchSize = BatchSize, Generation = pipeline.DefaultGenerationOptions(maxNewTokens) };
        return BatchPredictor.Answer(pipeline, items, options).SelectMany(p => p.NewAnswers).ToList();
    }

    /// <summary>Captions as stage 1 trains them: the plain template's prompt is the image alone; the caption ends
    /// at the template's separator (a new line).</summary>
    static IReadOnlyList<AnswerRecord> Caption(LlavaPipeline pipeline, IReadOnlyList<LlavaSample> figures, string imageRoot)
    {
        var options = new GenerationOptions { MaxNewTokens = FreeTextMaxNewTokens, StopStrings = [ConversationTemplate.Plain.Separator] };
        var records = new List<AnswerRecord>();
        foreach (var batch in figures.Chunk(BatchSize))
        {
            var images = batch.Select(f => RgbImage.Load(Path.Combine(imageRoot, f.Image!))).ToList();
            var results = pipeline.GenerateBatch(images, batch.Select(_ => LlavaTokenizer.ImagePlaceholder).ToList(), options);
            records.AddRange(batch.Select((f, i) => new AnswerRecord(f.Id, "", (results[i].Text ?? "").Trim(), "", "curriculum")));
        }
        return records;
    }

    static TextScores Score(IReadOnlyList<LlavaSample> references, IReadOnlyList<AnswerRecord> answers, string imageRoot)
    {
        if (references.Count == 0) return new TextScores(0, 0, 0, []);
        var f1 = references.Select((r, i) => StrictMetrics.TokenF1(answers[i].Text, r.Answer)).Average();
        var bleu = references.Select((r, i) => NltkBleu.SentenceBleu(StrictMetrics.Tokens(r.Answer), StrictMetrics.Tokens(answers[i].Text), NltkBleu.Uniform4)).Average();
        var examples = references.Take(3).Select((r, i) => new ExampleAnswer(Path.Combine(imageRoot, r.Image!), r.Question, r.Answer, answers[i].Text)).ToList();
        return new TextScores(references.Count, f1, bleu, examples);
    }

    /// <summary>The first closed and open questions of the first few images: the same examples after every stage.</summary>
    static IEnumerable<int> ExampleIndices(IReadOnlyList<LlavaSample> questions)
    {
        var images = questions.Select(q => q.Image).Distinct().Take(Examples / 2).ToHashSet();
        return questions.Select((q, i) => (q, i)).Where(x => images.Contains(x.q.Image))
            .GroupBy(x => (x.q.Image, x.q.IsClosed)).Select(g => g.First().i).Order();
    }
}
