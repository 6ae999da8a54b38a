using LlavaMed.Data;
using LlavaMed.Data.Synthetic;
using LlavaMed.Training;
using LlavaMed.Workbench;

namespace LlavaMed.Curriculum;

/// <summary>A curriculum output folder worked on one stage at a time (the stage notebooks): the corpus, the starting
/// model, the stage data and the three stage values of <see cref="CurriculumRunner.Stages"/>, each stage starting
/// from the previous one's output. What is already in the folder is reused; what is missing is built by
/// <see cref="EnsureModel"/>. The layout is <see cref="CurriculumRunner.Run"/>'s. <see cref="Load"/> is the dtype and
/// device the stages train in and evaluations load with.</summary>
public sealed record CurriculumWorkspace(string OutputDir, CurriculumScale Scale, int Seed, SyntheticCorpusLayout Corpus,
                                         bool CorpusFromCache, IReadOnlyList<TrainingStage> Stages, EvaluationSet Evaluation)
{
    public Checkpoints.LoadOptions Load { get; init; } = new();

    public string StartModel => Path.Combine(OutputDir, "starting-model", StartingModelBuilder.ModelFolderName);

    /// <summary>Generates (or reuses) the corpus and writes the stage data when missing. <paramref name="batchSize"/>
    /// replaces every stage's batch size (gradient accumulation 1): on a tiny corpus, small batches give a loss curve
    /// of more than one or two optimiser steps. <paramref name="load"/> places the stages (default: float32 on the CPU).</summary>
    public static CurriculumWorkspace Open(string outputDir, CurriculumScale scale, int seed, string? cacheFolder = null, int? batchSize = null,
                                           Checkpoints.LoadOptions? load = null)
    {
        var output = Path.GetFullPath(outputDir);
        load ??= new Checkpoints.LoadOptions();
        var summary = SyntheticCorpus.EnsureGenerated(cacheFolder ?? Path.Combine(WorkbenchPaths.CacheRoot(), "synthetic"), scale.Corpus with { Seed = seed });
        var corpus = summary.Layout;
        var data = Path.Combine(output, "data");
        var instructPath = Path.Combine(data, "instruct", "llava_med_instruct.json");
        if (!File.Exists(instructPath)) instructPath = CurriculumRunner.WriteInstructionData(corpus, data, seed).Path;
        var downstreamTrain = Path.Combine(data, "downstream", "train.json");
        var test = CurriculumRunner.Stride(CurriculumRunner.ReadVqa(corpus.VqaTest), scale.VqaTestQuestions > 0 ? scale.VqaTestQuestions : int.MaxValue);
        if (!File.Exists(downstreamTrain))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(downstreamTrain)!);
            DownstreamFormat.Write(downstreamTrain, CurriculumRunner.ReadVqa(corpus.VqaTrain));
            DownstreamFormat.Write(Path.Combine(data, "downstream", "test.json"), test);
        }
        var startModel = Path.Combine(output, "starting-model", StartingModelBuilder.ModelFolderName);
        var stages = new List<TrainingStage>();
        var previous = startModel;
        foreach (var stage in CurriculumRunner.Stages(scale, seed, corpus, instructPath, downstreamTrain, corpus.Images, startModel, output))
        {
            var chained = stage with { InitFrom = previous, Dtype = load.Dtype, Device = load.Device };
            stages.Add(batchSize is { } size ? chained with { BatchSize = size, GradientAccumulation = 1 } : chained);
            previous = stage.OutputDir;
        }
        var evaluation = new EvaluationSet(test, corpus.Images, CurriculumRunner.CaptionSet(corpus, scale.CaptionFigures),
                                           CurriculumRunner.ChatSet(corpus, scale.ChatQuestions), corpus.Images);
        return new CurriculumWorkspace(output, scale, seed, corpus, summary.FromCache, stages, evaluation) { Load = load };
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
}
