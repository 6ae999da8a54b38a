using System.Text.Json.Nodes;
using LlavaMed.Curriculum;
using LlavaMed.Data;
using LlavaMed.Data.Synthetic;
using LlavaMed.Training;

namespace LlavaMed.Tests.Curriculum;

public sealed class CurriculumRunTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-curriculum-run-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    static readonly CurriculumScale Tiny = CurriculumScale.QuickRun with
    {
        Name = "tiny", Corpus = new SyntheticCorpusOptions(Figures: 25, GeneralScenes: 10, ChatEvalFigures: 2), VisionEpochs = 1,
        VqaTestQuestions = 12, CaptionFigures = 2, ChatQuestions = 3,
    };

    /// <summary>A VQA-RAD folder (trainset.json, testset.json, images/) made of the corpus's own VQA split, so that
    /// stage 3's data comes from a root other than the corpus.</summary>
    static string VqaRoot(SyntheticCorpusLayout corpus, string folder)
    {
        Directory.CreateDirectory(folder);
        File.Copy(corpus.VqaTrain, Path.Combine(folder, "trainset.json"));
        File.Copy(corpus.VqaTest, Path.Combine(folder, "testset.json"));
        Directory.CreateSymbolicLink(Path.Combine(folder, VqaRad.ImageFolder), corpus.Images);
        return folder;
    }

    /// <summary>The CLI's path (<see cref="CurriculumRun.RunAll"/>, as <c>curriculum</c> and <c>ablate</c> call it) trains
    /// exactly the stages the notebooks' path (<see cref="CurriculumRun.Prepare"/>, then one stage) shows: names, data,
    /// init_from chaining and hyper-parameters, compared through each stage's stage_args.json; and both honour the
    /// ablation variant (no stage 1, the bare language model as the start) and the VQA root.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void TheCliAndNotebookPathsTrainTheSameStagesForAVariantAndAVqaRoot()
    {
        var cache = Path.Combine(temporary, "cache");
        var corpus = SyntheticCorpus.EnsureGenerated(cache, Tiny.Corpus with { Seed = 3 }).Layout;
        var root = VqaRoot(corpus, Path.Combine(temporary, "vqa-root"));
        var options = new CurriculumOptions
        {
            OutputDir = Path.Combine(temporary, "run"), Seed = 3, BaseScale = Tiny, CacheFolder = cache, VqaRoot = root,
            Variant = new CurriculumVariant { Name = "bare-no-stage1", Stage1Epochs = 0, Start = StartingPoint.BareLanguageModel },
        };

        var result = CurriculumRun.Prepare(options).RunAll();
        var notebook = CurriculumRun.Prepare(options);

        Assert.Equal(["instruction", "downstream"], result.Stages.Select(s => s.Name));
        Assert.Equal(["instruction", "downstream"], notebook.Stages.Select(s => s.Name));
        foreach (var stage in notebook.Stages)
        {
            var written = JsonNode.Parse(File.ReadAllText(Path.Combine(stage.OutputDir, TrainingStage.ArgumentsFile)))!;
            Assert.Equal(stage.ToJson().ToJsonString(), written.ToJsonString());
        }
        Assert.Equal(Path.Combine(options.OutputDir, "starting-model", StartingModelBuilder.PretrainedFolderName), notebook.Stage("instruction").InitFrom);
        Assert.Equal(notebook.Stage("instruction").OutputDir, notebook.Stage("downstream").InitFrom);
        Assert.Equal(Path.Combine(root, VqaRad.ImageFolder), notebook.Stage("downstream").ImageRoot);
        Assert.Equal(VqaRad.Read(Path.Combine(root, "trainset.json")).Count(), LlavaSample.ReadJsonArray(notebook.Stage("downstream").DataPath).Count);
        Assert.Equal((Tiny.DownstreamStage.BatchSize, Tiny.DownstreamStage.LearningRate, Tiny.DownstreamStage.PackPerImage, Tiny.DownstreamEpochs),
                     (notebook.Stage("downstream").BatchSize, notebook.Stage("downstream").LearningRate, notebook.Stage("downstream").PackPerImage,
                      notebook.Stage("downstream").Epochs));
        Assert.Equal(Path.Combine(root, VqaRad.ImageFolder), notebook.Evaluation.VqaImageRoot);
        Assert.Equal(Tiny.VqaTestQuestions, notebook.Evaluation.VqaTest.Count);
        Assert.Equal("vqa-rad", result.VqaSet);
        Assert.Contains("stage_args.json", File.ReadAllText(Path.Combine(options.OutputDir, "report.md")));
    }
}
