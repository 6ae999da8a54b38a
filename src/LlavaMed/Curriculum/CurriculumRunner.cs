using System.Diagnostics;
using System.Text.Json.Nodes;
using LlavaMed.Data;
using LlavaMed.Data.SelfInstruct;
using LlavaMed.Data.Synthetic;
using LlavaMed.Evaluation;
using LlavaMed.Llm;
using LlavaMed.Text;
using LlavaMed.Training;
using LlavaMed.Workbench;

namespace LlavaMed.Curriculum;

/// <summary>One evaluated model of the run: the starting model ("general") or a stage's output.</summary>
public sealed record StageResult(string Name, string ModelFolder, StageEvaluation Evaluation, double TrainSeconds, double EvaluateSeconds);

/// <summary>A reference point scored on the same test questions: answers that never look at the image.</summary>
public sealed record BaselineResult(string Name, VqaReport Vqa, IReadOnlyList<AnswerRecord> Answers);

/// <summary>What a curriculum run produced: the starting model's and each stage's evaluation, the image-blind
/// baselines on the same test questions, the loss curves (per phase, one value per optimiser step), the run's wall
/// time and peak memory, and the files written. <see cref="VqaSet"/> names the stage-3 data (synthetic, vqa-rad).</summary>
public sealed record CurriculumResult(string OutputDir, CurriculumScale Scale, int Seed, string VqaSet, StageResult Start, IReadOnlyList<StageResult> Stages,
                                      IReadOnlyList<BaselineResult> Baselines,
                                      IReadOnlyDictionary<string, IReadOnlyList<double>> LossCurves, IReadOnlyList<string> DataNotes,
                                      double WallSeconds, long PeakWorkingSetBytes)
{
    /// <summary>The last stage and the baselines scored per answer type and question type ("closed POS", "open ABN", ...),
    /// which shows what the model reads from the image and what it still guesses.</summary>
    public GroupComparison? ByQuestionType { get; init; }

    /// <summary>The dtype and device the stages trained in and the evaluations loaded with.</summary>
    public Checkpoints.LoadOptions Load { get; init; } = new();

    public string MetricsPath => Path.Combine(OutputDir, "metrics.json");
    public string ReportMarkdownPath => Path.Combine(OutputDir, "report.md");
    public string ReportHtmlPath => Path.Combine(OutputDir, "report.html");
}

/// <summary>The LLaVA-Med curriculum end to end on the built-in synthetic corpus: generate (or reuse) the corpus,
/// build the general starting model, write the stage data (truth-based self-instruct conversations, VQA in the
/// downstream layout), run stage 1 (alignment: projector only, plain template, figure captions), stage 2
/// (instruction: projector + LM on the conversations) and stage 3 (downstream: projector + LM on the VQA train
/// split), evaluate the starting model and every stage on held-out figures, and write report.md, report.html and
/// metrics.json.</summary>
public static class CurriculumRunner
{
    public static readonly IReadOnlyList<string> StageNames = ["alignment", "instruction", "downstream"];

    public static CurriculumResult Run(CurriculumOptions options, IProgress<CurriculumProgress>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var scale = options.Scale;
        var output = Path.GetFullPath(options.OutputDir);
        Directory.CreateDirectory(output);
        var losses = new Dictionary<string, List<double>>();
        void Report(CurriculumProgress p)
        {
            if (p.IsTrainingStep)
            {
                if (!losses.TryGetValue(p.Phase, out var curve)) losses[p.Phase] = curve = [];
                curve.Add(p.Loss);
            }
            progress?.Report(p);
        }

        var corpusOptions = scale.Corpus with { Seed = options.Seed };
        var cache = options.CacheFolder ?? Path.Combine(WorkbenchPaths.CacheRoot(), "synthetic");
        var summary = SyntheticCorpus.EnsureGenerated(cache, corpusOptions);
        var corpus = summary.Layout;
        Report(new("corpus", $"{(summary.FromCache ? "reused" : "generated")} corpus {corpus.Root}"));

        var startFolder = options.StartingModelFolder ?? Path.Combine(output, "starting-model");
        if (options.StartingModelFolder is not null && StartingModelBuilder.IsBuilt(startFolder))
            Report(new("starting-model", $"reused the starting model in {startFolder}"));
        else
            foreach (var p in StartingModelBuilder.Build(corpus, scale, options.Seed, startFolder)) Report(p);
        var startModel = StartingModelBuilder.ModelFolder(startFolder, options.Variant.Start);
        ReleaseMemory();

        var data = Path.Combine(output, "data");
        var (instructPath, notes) = WriteInstructionData(corpus, data, options.Seed, options.Variant.InlineMentions, options.Variant.InstructionFraction);
        if (options.Variant.Axes.Count > 0) notes.Insert(0, $"ablation variant '{options.Variant.Name}': {options.Variant.Describe(scale)}");
        var vqa = options.VqaRoot is null
            ? VqaSplits.Read(corpus.VqaTrain, corpus.VqaTest, corpus.Images)
            : VqaSplits.Read(Path.Combine(options.VqaRoot, "trainset.json"), Path.Combine(options.VqaRoot, "testset.json"),
                             Path.Combine(options.VqaRoot, VqaRad.ImageFolder));
        var downstreamTrain = Path.Combine(data, "downstream", "train.json");
        Directory.CreateDirectory(Path.GetDirectoryName(downstreamTrain)!);
        DownstreamFormat.Write(downstreamTrain, vqa.Train);
        var test = scale.VqaTestQuestions > 0 ? Stride(vqa.Test, scale.VqaTestQuestions) : vqa.Test;
        DownstreamFormat.Write(Path.Combine(data, "downstream", "test.json"), test);
        notes.Add($"stage 3 data: {vqa.Train.Count} training questions; evaluated on {test.Count} test questions ({test.Count(q => q.IsClosed)} closed)");
        var set = new EvaluationSet(test, vqa.ImageRoot, CaptionSet(corpus, scale.CaptionFigures), ChatSet(corpus, scale.ChatQuestions), corpus.Images);
        foreach (var note in notes) Report(new("data", note));
        var baselines = Baselines(vqa.Train, test);
        foreach (var baseline in baselines)
            Report(new("baselines", $"{baseline.Name}: closed accuracy {baseline.Vqa.LlavaMedV1!.ClosedAccuracy:0.000} (llava-med-v1) / "
                + $"{baseline.Vqa.Strict!.ClosedAccuracy ?? 0:0.000} (strict), open recall {baseline.Vqa.LlavaMedV1.OpenRecall ?? 0:0.000}"));

        StageResult Evaluate(string name, string folder, double trainSeconds)
        {
            var evaluationClock = Stopwatch.StartNew();
            Report(new($"evaluate-{name}", $"evaluating {name}: {set.VqaTest.Count} VQA, {set.Captions.Count} captions, {set.Chat.Count} chat questions"));
            var evaluation = CurriculumEvaluation.Evaluate(folder, set, Path.Combine(output, "answers", $"{name}.jsonl"), options.Load);
            Report(new($"evaluate-{name}", $"{name}: closed accuracy {evaluation.ClosedAccuracy:0.000} (llava-med-v1) / {evaluation.StrictClosedAccuracy:0.000} (strict), open "
                + $"recall {evaluation.OpenRecall:0.000}, "
                                            + $"caption F1 {evaluation.Captions.TokenF1:0.000}, chat F1 {evaluation.Chat.TokenF1:0.000}"));
            return new StageResult(name, folder, evaluation, trainSeconds, evaluationClock.Elapsed.TotalSeconds);
        }

        var start = Evaluate("general", startModel, 0);
        var stages = new List<StageResult>();
        var previous = startModel;
        foreach (var stage in Stages(scale, options.Seed, corpus, instructPath, downstreamTrain, vqa.ImageRoot, previous, output))
        {
            var stageClock = Stopwatch.StartNew();
            var current = stage with { InitFrom = previous, Dtype = options.Load.Dtype, Device = options.Load.Device };
            foreach (var p in StartingModelBuilder.RunStage(current)) Report(p);
            stages.Add(Evaluate(stage.Name, stage.OutputDir, stageClock.Elapsed.TotalSeconds));
            previous = stage.OutputDir;
            ReleaseMemory();
        }

        using var self = Process.GetCurrentProcess();
        var result = new CurriculumResult(output, scale, options.Seed, options.VqaRoot is null ? "synthetic" : "vqa-rad", start, stages, baselines,
                                          losses.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<double>)kv.Value), notes,
                                          clock.Elapsed.TotalSeconds, self.PeakWorkingSet64)
        {
            Load = options.Load,
            ByQuestionType = ScoreBreakdown.Compare("question type", test,
                [new ScoredSystem(stages[^1].Name, stages[^1].Evaluation.VqaAnswers), .. baselines.Select(b => new ScoredSystem(b.Name, b.Answers))],
                GroupByQuestionType(vqa.TestQuestionTypes), VqaMetricSets.Strict),
        };
        CurriculumReport.Write(result);
        Report(new("report", $"wrote {result.ReportMarkdownPath}, {result.ReportHtmlPath} and {result.MetricsPath}"));
        return result;
    }

    /// <summary>Frees what the finished phase left to the garbage collector (the pretraining's image cache, the
    /// previous model's tensors awaiting finalisation) before the next model is loaded, which keeps the peak down.</summary>
    static void ReleaseMemory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>The majority-answer and question-only baselines (trained on the stage-3 training split), scored
    /// like the models: what a model must beat to show that it uses the image.</summary>
    internal static IReadOnlyList<BaselineResult> Baselines(IReadOnlyList<LlavaSample> train, IReadOnlyList<LlavaSample> test)
    {
        BaselineResult Scored(string name, IReadOnlyList<AnswerRecord> answers) => new(name, VqaEvaluation.Evaluate(test, answers), answers);
        return [Scored(VqaBaselines.MajorityAnswerModelId, VqaBaselines.MajorityAnswer(train, test)),
                Scored(VqaBaselines.QuestionOnlyModelId, VqaBaselines.QuestionOnly(train, test))];
    }

    /// <summary>A test question's group for <see cref="CurriculumResult.ByQuestionType"/>: its answer type and VQA-RAD
    /// question type, e.g. "closed POS"; questions without a type are grouped by answer type alone.</summary>
    internal static Func<LlavaSample, string?> GroupByQuestionType(IReadOnlyDictionary<string, string?> questionTypes) =>
        sample => $"{(sample.IsClosed ? "closed" : "open")} {questionTypes.GetValueOrDefault(sample.Id)?.Trim()}".Trim();

    /// <summary>The stage-3 questions as downstream records, and each test question's VQA-RAD question type by id.</summary>
    sealed record VqaSplits(IReadOnlyList<LlavaSample> Train, IReadOnlyList<LlavaSample> Test,
                            IReadOnlyDictionary<string, string?> TestQuestionTypes, string ImageRoot)
    {
        public static VqaSplits Read(string trainFile, string testFile, string imageRoot)
        {
            var test = VqaRad.Read(testFile).ToList();
            return new(ReadVqa(trainFile), test.Select(ToSample).ToList(), test.ToDictionary(q => q.Qid.ToString(), q => q.QuestionType), imageRoot);
        }
    }

    /// <summary>The three stages with small-model presets: the paper's recipe (what trains, templates, data), with
    /// learning rates and epochs for a model of this size trained from a small start. A scale with 0 alignment epochs
    /// has no stage 1 (the paper's "stage 1: 0 epochs" ablation): stage 2 then starts from the starting model.</summary>
    public static IEnumerable<TrainingStage> Stages(CurriculumScale scale, int seed, SyntheticCorpusLayout corpus, string instructPath,
                                                    string downstreamTrain, string vqaImages, string startModel, string output)
    {
        if (scale.AlignmentEpochs > 0)
            yield return TrainingStage.Alignment(corpus.Alignment, corpus.Images, startModel, Path.Combine(output, "stage1-alignment")) with
            {
                Epochs = scale.AlignmentEpochs, BatchSize = 64, GradientAccumulation = 1, Seed = seed, MaxLength = 256,
            };
        yield return TrainingStage.Instruction(instructPath, corpus.Images, startModel, Path.Combine(output, "stage2-instruction")) with
        {
            Epochs = scale.InstructionEpochs, LearningRate = 1e-3, ProjectorLearningRate = 2e-3, BatchSize = 64, GradientAccumulation = 1, Seed = seed, MaxLength = 384,
        };
        yield return TrainingStage.Downstream(downstreamTrain, vqaImages, startModel, Path.Combine(output, "stage3-downstream")) with
        {
            Epochs = scale.DownstreamEpochs, LearningRate = 2e-3, ProjectorLearningRate = 4e-3, BatchSize = 128, GradientAccumulation = 1, Seed = seed, MaxLength = 256,
            PackPerImage = 16,
        };
    }

    /// <summary>Runs the self-instruct pipeline offline with the truth-based writer over the training figures'
    /// captions (with their inline mentions when <paramref name="inlineMentions"/>; of a seeded subset of the figures
    /// when <paramref name="fraction"/> is below 1) and writes the conversations (images renamed to the corpus's files).</summary>
    internal static (string Path, List<string> Notes) WriteInstructionData(SyntheticCorpusLayout corpus, string data, int seed,
                                                                           bool inlineMentions = false, double fraction = 1)
    {
        var findings = corpus.ReadFindings();
        var images = findings.ToDictionary(f => f.PairId, f => f.Image);
        var provider = new ProviderOptions { Provider = ChatProvider.Synthetic, SyntheticWriter = new FindingConversationWriter(findings), MaxAttempts = 1 };
        using var client = ChatClientFactory.Create(provider);
        var generator = new SelfInstructGenerator(client, SelfInstructPrompt.Load(), CleaningRules.Load(), ChatClientFactory.RequestOptions(provider));
        var (allFigures, _) = FigureCaptionRecord.ReadFile(corpus.InstructFigCaptions, skipBadRecords: false);
        var figures = fraction < 1 ? SelfInstructGenerator.Subset(allFigures, Math.Max(1, (int)Math.Round(allFigures.Count * fraction)), seed) : allFigures;
        var result = generator.RunAsync(figures, new SelfInstructOptions { Seed = seed, Concurrency = 1, InlineMentions = inlineMentions }).GetAwaiter().GetResult();
        if (result.Failed > 0)
            throw new InvalidOperationException($"self-instruct failed for {result.Failed} figures, e.g. "
                + $"{result.Items.First(i => i.Status == SelfInstructStatus.Failed).Problems.FirstOrDefault()}");
        var path = Path.Combine(data, "instruct", "llava_med_instruct.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        SelfInstructGenerator.WriteSamples(path, result.Samples.Select(s => s with { Image = images[s.Id] }));
        return (path, [$"stage 2 data: {result.Kept} conversations ({result.PairsKept} of {result.PairsParsed} question-answer pairs kept by the cleaning rules) "
                       + $"from {figures.Count} {(figures.Count < allFigures.Count ? $"of {allFigures.Count} " : "")}training figures"
                       + $"{(inlineMentions ? " with their inline mentions" : "")}, written by {provider.SyntheticWriter.Name}"]);
    }

    internal static IReadOnlyList<LlavaSample> ReadVqa(string path) => VqaRad.Read(path).Select(ToSample).ToList();

    static LlavaSample ToSample(VqaRadQuestion question) => DownstreamFormat.ToSample(question.ToVqaItem(), closedOptions: false);

    /// <summary>Every k-th item, so a shortened evaluation still spans all figures and question types.</summary>
    internal static IReadOnlyList<T> Stride<T>(IReadOnlyList<T> items, int count) =>
        count >= items.Count ? items : Enumerable.Range(0, count).Select(i => items[(int)((long)i * items.Count / count)]).ToList();

    /// <summary>Held-out figures with their captions (the chat set carries the test figures' captions).</summary>
    internal static IReadOnlyList<LlavaSample> CaptionSet(SyntheticCorpusLayout corpus, int count) =>
        Stride(ChatLines(corpus).DistinctBy(l => l["image"]!.GetValue<string>()).Select(l => new LlavaSample(
            l["pair_id"]!.GetValue<string>(), l["image"]!.GetValue<string>(),
            [ConversationTurn.Human(LlavaTokenizer.ImagePlaceholder), ConversationTurn.Gpt(l["fig_caption"]!.GetValue<string>())])).ToList(), count);

    internal static IReadOnlyList<LlavaSample> ChatSet(SyntheticCorpusLayout corpus, int count) =>
        Stride(ChatLines(corpus).Select(l => new LlavaSample(
            l["question_id"]!.ToJsonString(), l["image"]!.GetValue<string>(),
            [ConversationTurn.Human(l["text"]!.GetValue<string>()), ConversationTurn.Gpt(l["gpt4_answer"]!.GetValue<string>())])).ToList(), count);

    static IEnumerable<JsonNode> ChatLines(SyntheticCorpusLayout corpus) =>
        File.ReadLines(corpus.ChatEval).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!);
}
