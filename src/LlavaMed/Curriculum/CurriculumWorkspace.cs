using System.Text.Json.Nodes;
using LlavaMed.Data;
using LlavaMed.Data.SelfInstruct;
using LlavaMed.Data.Synthetic;
using LlavaMed.Llm;
using LlavaMed.Text;
using LlavaMed.Training;
using LlavaMed.Workbench;

namespace LlavaMed.Curriculum;

/// <summary>A curriculum output folder worked on one stage at a time (the stage notebooks): the corpus, the starting
/// model, the stage data and the three stage values of <see cref="CurriculumRunner.Stages"/>, each stage starting
/// from the previous one's output. What is already in the folder is reused; what is missing is built by
/// <see cref="EnsureModel"/>. The layout is <see cref="CurriculumRunner.Run"/>'s.</summary>
public sealed record CurriculumWorkspace(string OutputDir, CurriculumScale Scale, int Seed, SyntheticCorpusLayout Corpus,
                                         bool CorpusFromCache, IReadOnlyList<TrainingStage> Stages, EvaluationSet Evaluation)
{
    public string StartModel => Path.Combine(OutputDir, "starting-model", StartingModelBuilder.ModelFolderName);

    /// <summary>Generates (or reuses) the corpus and writes the stage data when missing. <paramref name="batchSize"/>
    /// replaces every stage's batch size (gradient accumulation 1): on a tiny corpus, small batches give a loss curve
    /// of more than one or two optimiser steps.</summary>
    public static CurriculumWorkspace Open(string outputDir, CurriculumScale scale, int seed, string? cacheFolder = null, int? batchSize = null)
    {
        var output = Path.GetFullPath(outputDir);
        var summary = SyntheticCorpus.EnsureGenerated(cacheFolder ?? Path.Combine(WorkbenchPaths.CacheRoot(), "synthetic"), scale.Corpus with { Seed = seed });
        var corpus = summary.Layout;
        var data = Path.Combine(output, "data");
        var instructPath = Path.Combine(data, "instruct", "llava_med_instruct.json");
        if (!File.Exists(instructPath)) WriteInstructionData(corpus, instructPath, seed);
        var downstreamTrain = Path.Combine(data, "downstream", "train.json");
        var test = Stride(ReadVqa(corpus.VqaTest), scale.VqaTestQuestions > 0 ? scale.VqaTestQuestions : int.MaxValue);
        if (!File.Exists(downstreamTrain))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(downstreamTrain)!);
            DownstreamFormat.Write(downstreamTrain, ReadVqa(corpus.VqaTrain));
            DownstreamFormat.Write(Path.Combine(data, "downstream", "test.json"), test);
        }
        var startModel = Path.Combine(output, "starting-model", StartingModelBuilder.ModelFolderName);
        var stages = new List<TrainingStage>();
        var previous = startModel;
        foreach (var stage in CurriculumRunner.Stages(scale, seed, corpus, instructPath, downstreamTrain, corpus.Images, startModel, output))
        {
            var chained = stage with { InitFrom = previous };
            stages.Add(batchSize is { } size ? chained with { BatchSize = size, GradientAccumulation = 1 } : chained);
            previous = stage.OutputDir;
        }
        var evaluation = new EvaluationSet(test, corpus.Images, CaptionSet(corpus, scale.CaptionFigures), ChatSet(corpus, scale.ChatQuestions), corpus.Images);
        return new CurriculumWorkspace(output, scale, seed, corpus, summary.FromCache, stages, evaluation);
    }

    public TrainingStage Stage(string name) =>
        Stages.FirstOrDefault(s => s.Name == name) ?? throw new ArgumentException($"unknown stage '{name}' ({string.Join(", ", Stages.Select(s => s.Name))})");

    /// <summary>Whether a finished model is in <paramref name="modelFolder"/> (its weights are written last).</summary>
    public static bool HasModel(string modelFolder) => File.Exists(Path.Combine(modelFolder, "model.safetensors"));

    /// <summary>Builds what <paramref name="modelFolder"/> (the starting model or a stage's output) needs and is
    /// missing: the starting model, then each earlier stage in order, then that stage. Yields nothing when the
    /// model is already there.</summary>
    public IEnumerable<CurriculumProgress> EnsureModel(string modelFolder)
    {
        if (HasModel(modelFolder)) yield break;
        if (!HasModel(StartModel))
            foreach (var p in StartingModelBuilder.Build(Corpus, Scale, Seed, Path.GetDirectoryName(StartModel)!)) yield return p;
        foreach (var stage in Stages)
        {
            if (HasModel(modelFolder)) yield break;
            if (HasModel(stage.OutputDir)) continue;
            foreach (var p in StartingModelBuilder.RunStage(stage)) yield return p;
        }
    }

    /// <summary>Stage 2's data: the self-instruct pipeline run offline with the truth-based writer over the
    /// training figures' captions (images renamed to the corpus's files). The synthetic client is made directly, not
    /// through <see cref="ChatClientFactory"/>: in a .NET Interactive kernel, whose own Microsoft.Extensions.AI is
    /// older, the factory's OpenAI branch fails to compile (MissingMethodException) even for the synthetic provider.</summary>
    static void WriteInstructionData(SyntheticCorpusLayout corpus, string path, int seed)
    {
        var findings = corpus.ReadFindings();
        var images = findings.ToDictionary(f => f.PairId, f => f.Image);
        var provider = new ProviderOptions { Provider = ChatProvider.Synthetic, SyntheticWriter = new FindingConversationWriter(findings), MaxAttempts = 1 };
        using var client = new SyntheticChatClient(provider.SyntheticWriter);
        var generator = new SelfInstructGenerator(client, SelfInstructPrompt.Load(), CleaningRules.Load(), ChatClientFactory.RequestOptions(provider));
        var (figures, _) = FigureCaptionRecord.ReadFile(corpus.InstructFigCaptions, skipBadRecords: false);
        var result = generator.RunAsync(figures, new SelfInstructOptions { Seed = seed, Concurrency = 1 }).GetAwaiter().GetResult();
        if (result.Failed > 0)
            throw new InvalidOperationException($"self-instruct failed for {result.Failed} figures, e.g. {result.Items.First(i => i.Status == SelfInstructStatus.Failed).Problems.FirstOrDefault()}");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        SelfInstructGenerator.WriteSamples(path, result.Samples.Select(s => s with { Image = images[s.Id] }));
    }

    static IReadOnlyList<LlavaSample> ReadVqa(string path) =>
        VqaRad.Read(path).Select(q => DownstreamFormat.ToSample(q.ToVqaItem(), closedOptions: false)).ToList();

    /// <summary>Every k-th item, so a shortened evaluation still spans all figures and question types.</summary>
    static IReadOnlyList<T> Stride<T>(IReadOnlyList<T> items, int count) =>
        count >= items.Count ? items : Enumerable.Range(0, count).Select(i => items[(int)((long)i * items.Count / count)]).ToList();

    /// <summary>Held-out figures with their captions (the chat set carries the test figures' captions).</summary>
    static IReadOnlyList<LlavaSample> CaptionSet(SyntheticCorpusLayout corpus, int count) =>
        Stride(ChatLines(corpus).DistinctBy(l => l["image"]!.GetValue<string>()).Select(l => new LlavaSample(
            l["pair_id"]!.GetValue<string>(), l["image"]!.GetValue<string>(),
            [ConversationTurn.Human(LlavaTokenizer.ImagePlaceholder), ConversationTurn.Gpt(l["fig_caption"]!.GetValue<string>())])).ToList(), count);

    static IReadOnlyList<LlavaSample> ChatSet(SyntheticCorpusLayout corpus, int count) =>
        Stride(ChatLines(corpus).Select(l => new LlavaSample(
            l["question_id"]!.ToJsonString(), l["image"]!.GetValue<string>(),
            [ConversationTurn.Human(l["text"]!.GetValue<string>()), ConversationTurn.Gpt(l["gpt4_answer"]!.GetValue<string>())])).ToList(), count);

    static IEnumerable<JsonNode> ChatLines(SyntheticCorpusLayout corpus) =>
        File.ReadLines(corpus.ChatEval).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!);
}
