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
public sealed record StageResult(string Name, string ModelFolder, StageEvaluation Evaluation, double TrainSeconds, double EvaluateSeconds)
{
    /// <summary>The stage's effective settings (null for the starting model).</summary>
    public TrainingStage? Stage { get; init; }
}

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

/// <summary>The one entry point of the LLaVA-Med curriculum on the built-in synthetic corpus, for the CLI
/// (<c>curriculum</c>, <c>ablate</c>) and notebooks 03-05 alike. <see cref="Prepare"/> generates (or reuses) the corpus
/// and writes the stage data (truth-based self-instruct conversations, VQA in the downstream layout, from
/// <see cref="CurriculumOptions.VqaRoot"/> when given), and chains the three stages once (<see cref="Stages"/>):
/// stage 1 (alignment: projector only, plain template, figure captions), stage 2 (instruction: projector + LM on the
/// conversations), stage 3 (downstream: projector + LM on the VQA train split), each starting from the previous one's
/// output, the first from the starting model the variant names. <see cref="RunAll"/> builds the starting model, trains
/// and evaluates every stage on held-out figures and writes report.md, report.html and metrics.json;
/// <see cref="EnsureModel"/> brings one model of the run up to date (what a stage notebook needs).</summary>
public sealed class CurriculumRun
{
    public CurriculumOptions Options { get; }
    public string OutputDir { get; }
    public CurriculumScale Scale => Options.Scale;
    public int Seed => Options.Seed;
    public SyntheticCorpusLayout Corpus { get; }
    public bool CorpusFromCache { get; }
    /// <summary>The starting model's build folder: <see cref="CurriculumOptions.StartingModelFolder"/>, or the run's own.</summary>
    public string StartingModelFolder { get; }
    /// <summary>The checkpoint the first stage starts from (the general model, or the bare language model).</summary>
    public string StartModel { get; }
    /// <summary>The stages in order, chained, in the run's dtype and device.</summary>
    public IReadOnlyList<TrainingStage> Stages { get; }
    public EvaluationSet Evaluation { get; }
    /// <summary>What the stage data holds, in words (for the report).</summary>
    public IReadOnlyList<string> DataNotes { get; }
    /// <summary>The dtype and device the stages train in and evaluations load with.</summary>
    public Checkpoints.LoadOptions Load => Options.Load;

    readonly VqaSplits vqa;

    CurriculumRun(CurriculumOptions options, string outputDir, SyntheticCorpusSummary corpus, string startingModelFolder, IReadOnlyList<TrainingStage> stages,
                  EvaluationSet evaluation, IReadOnlyList<string> dataNotes, VqaSplits vqa)
    {
        (Options, OutputDir, Corpus, CorpusFromCache, StartingModelFolder) = (options, outputDir, corpus.Layout, corpus.FromCache, startingModelFolder);
        (StartModel, Stages, Evaluation, DataNotes, this.vqa) = (StartingModelBuilder.ModelFolder(startingModelFolder, options.Variant.Start), stages, evaluation, dataNotes, vqa);
    }

    /// <summary>Generates (or reuses) the corpus and writes the stage data into <c>{OutputDir}/data</c>. Trains nothing.</summary>
    public static CurriculumRun Prepare(CurriculumOptions options)
    {
        var scale = options.Scale;
        var output = Path.GetFullPath(options.OutputDir);
        Directory.CreateDirectory(output);
        var cache = options.CacheFolder ?? Path.Combine(WorkbenchPaths.CacheRoot(), "synthetic");
        var summary = SyntheticCorpus.EnsureGenerated(cache, scale.Corpus with { Seed = options.Seed });
        var corpus = summary.Layout;
        var startFolder = options.StartingModelFolder ?? Path.Combine(output, "starting-model");

        var data = Path.Combine(output, "data");
        var (instructPath, notes) = WriteInstructionData(corpus, data, options.Seed, options.Variant.InlineMentions, options.Variant.InstructionFraction);
        if (options.Variant.Axes.Count > 0) notes.Insert(0, $"ablation variant '{options.Variant.Name}': {options.Variant.Describe(scale)}");
        var vqa = (options.VqaRoot is null
            ? VqaSplits.Read(corpus.VqaTrain, corpus.VqaTest, corpus.Images)
            : VqaSplits.Read(Path.Combine(options.VqaRoot, "trainset.json"), Path.Combine(options.VqaRoot, "testset.json"),
                             Path.Combine(options.VqaRoot, VqaRad.ImageFolder))).WithTestQuestions(scale.VqaTestQuestions);
        var downstreamTrain = Path.Combine(data, "downstream", "train.json");
        Directory.CreateDirectory(Path.GetDirectoryName(downstreamTrain)!);
        DownstreamFormat.Write(downstreamTrain, vqa.Train);
        DownstreamFormat.Write(Path.Combine(data, "downstream", "test.json"), vqa.Test);
        notes.Add($"stage 3 data: {vqa.Train.Count} training questions; evaluated on {vqa.Test.Count} test questions ({vqa.Test.Count(q => q.IsClosed)} closed)");
        var evaluation = new EvaluationSet(vqa.Test, vqa.ImageRoot, CaptionSet(corpus, scale.CaptionFigures), ChatSet(corpus, scale.ChatQuestions), corpus.Images);
        var stages = ChainedStages(scale, options.Seed, corpus, instructPath, downstreamTrain, vqa.ImageRoot,
                                   StartingModelBuilder.ModelFolder(startFolder, options.Variant.Start), output)
            .Select(s => s with { Dtype = options.Load.Dtype, Device = options.Load.Device }).ToList();
        return new CurriculumRun(options, output, summary, startFolder, stages, evaluation, notes, vqa);
    }

    public TrainingStage Stage(string name) =>
        Stages.FirstOrDefault(s => s.Name == name) ?? throw new ArgumentException($"unknown stage '{name}' ({string.Join(", ", Stages.Select(s => s.Name))})");

    /// <summary>Whether a finished model is in <paramref name="modelFolder"/> (its weights are written last).</summary>
    public static bool HasModel(string modelFolder) => File.Exists(Path.Combine(modelFolder, "model.safetensors"));

    /// <summary>Builds what <paramref name="modelFolder"/> (the starting model or a stage's output) needs and is
    /// missing: the starting model, then each earlier stage in order, then that stage. Does nothing when the
    /// model is already there.</summary>
    public void EnsureModel(string modelFolder, IProgress<TrainingProgress>? progress = null)
    {
        if (HasModel(modelFolder)) return;
        if (!StartingModelBuilder.IsBuilt(StartingModelFolder)) StartingModelBuilder.Build(Corpus, Scale, Seed, StartingModelFolder, progress);
        foreach (var stage in Stages)
        {
            if (HasModel(modelFolder)) return;
            if (HasModel(stage.OutputDir)) continue;
            new StageTrainer().Run(stage, progress);
        }
    }

    /// <summary>Evaluates <paramref name="modelFolder"/> on <see cref="Evaluation"/>, writing its answers to
    /// <c>{OutputDir}/answers/{name}.jsonl</c>.</summary>
    public StageEvaluation Evaluate(string name, string modelFolder) =>
        CurriculumEvaluation.Evaluate(modelFolder, Evaluation, Path.Combine(OutputDir, "answers", $"{name}.jsonl"), Load);

    /// <summary>The whole run: builds the starting model (a shared <see cref="CurriculumOptions.StartingModelFolder"/> is
    /// reused when it holds a finished build), scores the image-blind baselines, evaluates the starting model, trains
    /// and evaluates each stage, and writes the report.</summary>
    public CurriculumResult RunAll(IProgress<TrainingProgress>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var losses = new LossCurves();
        var relay = new InlineProgress<TrainingProgress>(p =>
        {
            losses.Add(p);
            progress?.Report(p);
        });
        void Say(string phase, string message) => relay.Report(TrainingProgress.Note(phase, message));

        Say("corpus", $"{(CorpusFromCache ? "reused" : "generated")} corpus {Corpus.Root}");
        ReleaseMemory(); // what writing the stage data left, before the pretraining caches its images
        if (Options.StartingModelFolder is not null && StartingModelBuilder.IsBuilt(StartingModelFolder))
            Say("starting-model", $"reused the starting model in {StartingModelFolder}");
        else
            StartingModelBuilder.Build(Corpus, Scale, Seed, StartingModelFolder, relay);
        ReleaseMemory();

        foreach (var note in DataNotes) Say("data", note);
        var baselines = Baselines(vqa.Train, vqa.Test);
        foreach (var baseline in baselines)
            Say("baselines", $"{baseline.Name}: closed accuracy {baseline.Vqa.LlavaMedV1!.ClosedAccuracy:0.000} (llava-med-v1) / "
                                 + $"{baseline.Vqa.Strict!.ClosedAccuracy ?? 0:0.000} (strict), open recall {baseline.Vqa.LlavaMedV1.OpenRecall ?? 0:0.000}");

        StageResult Evaluated(string name, string folder, double trainSeconds)
        {
            var evaluationClock = Stopwatch.StartNew();
            Say($"evaluate-{name}", $"evaluating {name}: {Evaluation.VqaTest.Count} VQA, {Evaluation.Captions.Count} captions, {Evaluation.Chat.Count} chat questions");
            var evaluation = Evaluate(name, folder);
            Say($"evaluate-{name}", $"{name}: closed accuracy {evaluation.ClosedAccuracy:0.000} (llava-med-v1) / "
                                    + $"{evaluation.StrictClosedAccuracy:0.000} (strict), open recall {evaluation.OpenRecall:0.000}, "
                                    + $"caption F1 {evaluation.Captions.TokenF1:0.000}, chat F1 {evaluation.Chat.TokenF1:0.000}");
            return new StageResult(name, folder, evaluation, trainSeconds, evaluationClock.Elapsed.TotalSeconds);
        }

        var start = Evaluated("general", StartModel, 0);
        var stages = new List<StageResult>();
        foreach (var stage in Stages)
        {
            var stageClock = Stopwatch.StartNew();
            new StageTrainer().Run(stage, relay);
            stages.Add(Evaluated(stage.Name, stage.OutputDir, stageClock.Elapsed.TotalSeconds) with { Stage = stage });
            ReleaseMemory();
        }

        using var self = Process.GetCurrentProcess();
        var result = new CurriculumResult(OutputDir, Scale, Seed, Options.VqaRoot is null ? "synthetic" : "vqa-rad", start, stages, baselines,
                                          losses.ByPhase, DataNotes,
                                          clock.Elapsed.TotalSeconds, self.PeakWorkingSet64)
        {
            Load = Load,
            ByQuestionType = ScoreBreakdown.Compare("question type", vqa.Test,
                [new ScoredSystem(stages[^1].Name, stages[^1].Evaluation.VqaAnswers), .. baselines.Select(b => new ScoredSystem(b.Name, b.Answers))],
                GroupByQuestionType(vqa.TestQuestionTypes), VqaMetricSets.Strict),
        };
        CurriculumReport.Write(result);
        Say("report", $"wrote {result.ReportMarkdownPath}, {result.ReportHtmlPath} and {result.MetricsPath}");
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

        /// <summary>These splits with <paramref name="count"/> evenly spaced test questions (0: all of them).</summary>
        public VqaSplits WithTestQuestions(int count) => count > 0 ? this with { Test = VqaEvaluationSet.EvenlySpaced(Test, count) } : this;
    }

    /// <summary>The three stages at <paramref name="scale"/> (<see cref="PaperStages"/> with the scale's
    /// <see cref="StageScale"/>s: the paper's recipe of what trains, templates and data, with batch, learning rates and
    /// epochs for a model of this size trained from a small start), chained: each starts from the previous one's
    /// output, the first from <paramref name="startModel"/>. A scale with 0 alignment epochs has no stage 1 (the
    /// paper's "stage 1: 0 epochs" ablation): stage 2 then starts from the starting model.</summary>
    public static IEnumerable<TrainingStage> ChainedStages(CurriculumScale scale, int seed, SyntheticCorpusLayout corpus, string instructPath,
                                                           string downstreamTrain, string vqaImages, string startModel, string output)
    {
        var previous = startModel;
        TrainingStage Next(TrainingStage stage)
        {
            previous = stage.OutputDir;
            return stage;
        }
        if (scale.AlignmentEpochs > 0)
            yield return Next(scale.AlignmentStage.Apply(
                PaperStages.Alignment(corpus.Alignment, corpus.Images, previous, Path.Combine(output, "stage1-alignment")), scale.AlignmentEpochs, seed));
        yield return Next(scale.InstructionStage.Apply(
            PaperStages.Instruction(instructPath, corpus.Images, previous, Path.Combine(output, "stage2-instruction")), scale.InstructionEpochs, seed));
        yield return Next(scale.DownstreamStage.Apply(
            PaperStages.Downstream(downstreamTrain, vqaImages, previous, Path.Combine(output, "stage3-downstream")), scale.DownstreamEpochs, seed));
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

    /// <summary>Held-out figures with their captions (the chat set carries the test figures' captions).</summary>
    internal static IReadOnlyList<LlavaSample> CaptionSet(SyntheticCorpusLayout corpus, int count) =>
        VqaEvaluationSet.EvenlySpaced(ChatLines(corpus).DistinctBy(l => l["image"]!.GetValue<string>()).Select(l => new LlavaSample(
            l["pair_id"]!.GetValue<string>(), l["image"]!.GetValue<string>(),
            [ConversationTurn.Human(LlavaTokenizer.ImagePlaceholder), ConversationTurn.Gpt(l["fig_caption"]!.GetValue<string>())])).ToList(), count);

    internal static IReadOnlyList<LlavaSample> ChatSet(SyntheticCorpusLayout corpus, int count) =>
        VqaEvaluationSet.EvenlySpaced(ChatLines(corpus).Select(l => new LlavaSample(
            l["question_id"]!.ToJsonString(), l["image"]!.GetValue<string>(),
            [ConversationTurn.Human(l["text"]!.GetValue<string>()), ConversationTurn.Gpt(l["gpt4_answer"]!.GetValue<string>())])).ToList(), count);

    static IEnumerable<JsonNode> ChatLines(SyntheticCorpusLayout corpus) =>
        File.ReadLines(corpus.ChatEval).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!);
}
