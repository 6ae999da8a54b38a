using System.CommandLine;
using System.Text.Json.Nodes;
using LlavaMed.Cli;
using LlavaMed.Curriculum;
using LlavaMed.Data;
using LlavaMed.Data.Synthetic;
using LlavaMed.Text;
using LlavaMed.Training;

namespace LlavaMed.Tests.Curriculum;

public sealed class CurriculumTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-curriculum-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    /// <summary>The quick scale made smaller still: the builder's code path, not its quality, is under test.</summary>
    static readonly CurriculumScale Tiny = CurriculumScale.QuickRun with
    {
        Name = "tiny", Corpus = new SyntheticCorpusOptions(Figures: 25, GeneralScenes: 10, ChatEvalFigures: 2), VisionEpochs = 1,
    };

    [Fact]
    [Trait("Category", "Slow")]
    public void StartingModelBuilderIsDeterministic()
    {
        var corpus = SyntheticCorpus.EnsureGenerated(Path.Combine(temporary, "cache"), Tiny.Corpus).Layout;
        byte[] Build(string name)
        {
            var folder = Path.Combine(temporary, name);
            var steps = new List<LlavaMed.Training.TrainingProgress>();
            StartingModelBuilder.Build(corpus, Tiny, seed: 5, folder, new LlavaMed.Workbench.InlineProgress<LlavaMed.Training.TrainingProgress>(steps.Add));
            Assert.Contains(steps, s => s.Phase == "vision" && s.IsTrainingStep);
            Assert.Contains(steps, s => s.Phase == "language" && s.IsTrainingStep);
            Assert.Contains(steps, s => s.Phase == "general-instruction" && s.IsTrainingStep);
            Assert.All(steps.Where(s => s.IsTrainingStep), s => Assert.True(double.IsFinite(s.Loss)));
            return File.ReadAllBytes(Path.Combine(folder, StartingModelBuilder.ModelFolderName, "model.safetensors"));
        }
        var first = Build("a");
        Assert.Equal(first, Build("b"));
        Assert.True(first.Length > 10_000);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void StartingModelTokenizerLearnsTheInstructionTemplatesMarkers()
    {
        // The markers wrap every question the model reads; spelled out character by character they made up about a
        // third of a VQA sample's text tokens.
        var corpus = SyntheticCorpus.EnsureGenerated(Path.Combine(temporary, "cache"), Tiny.Corpus).Layout;
        var folder = Path.Combine(temporary, "tokenizer");
        SentencePieceTrainer.Train(StartingModelBuilder.TokenizerSentences(corpus), Tiny.VocabularySize, new SentencePieceTrainerOptions(CharacterCoverage: 1.0))
            .WriteTokenizerFolder(folder, modelMaxLength: 512);
        var tokenizer = LlavaTokenizer.FromFolder(folder);
        // Spelled out they are 6 and 7 pieces; learned, a few even with the tiny corpus's 400-piece vocabulary.
        Assert.True(tokenizer.Encode("[INST]", addBos: false).Count <= 3, "[INST] should be a few pieces");
        Assert.True(tokenizer.Encode("[/INST]", addBos: false).Count <= 3, "[/INST] should be a few pieces");
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void QuickCurriculumWritesMetricsAndReports()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var folder = Path.Combine(temporary, "run");
        var exitCode = CliApp.Build().Parse(["curriculum", "--quick", "--out", folder, "--seed", "1"])
            .Invoke(new InvocationConfiguration { Output = output, Error = error });
        TestContext.Current.TestOutputHelper?.WriteLine($"{output}{error}");
        Assert.Equal(0, exitCode);

        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json")))!;
        var stages = metrics["stages"]!.AsArray();
        Assert.Equal(PaperStages.Names, stages.Select(s => s!["name"]!.GetValue<string>()));
        foreach (var stage in stages.Append(metrics["starting_model"]))
        {
            var vqa = stage!["vqa"]!.AsObject();
            Assert.Equal(["llava-med-v1", "strict"], vqa.Select(kv => kv.Key));
            Assert.InRange(vqa["llava-med-v1"]!["closed_accuracy"]!.GetValue<double>(), 0, 1);
            Assert.InRange(vqa["llava-med-v1"]!["closed_accuracy_pre_fix_bdd4809"]!.GetValue<double>(), 0, 1);
            Assert.True(vqa["llava-med-v1"]!["n_closed_counted"]!.GetValue<int>() <= vqa["llava-med-v1"]!["n_closed"]!.GetValue<int>());
            Assert.True(vqa["llava-med-v1"]!["n_closed"]!.GetValue<int>() + vqa["llava-med-v1"]!["n_open"]!.GetValue<int>() > 0);
            Assert.NotNull(vqa["strict"]!["closed_accuracy"]);
        }
        Assert.True(metrics["wall_seconds"]!.GetValue<double>() > 0);
        var downstream = stages[2]!["vqa"]!["strict"]!;
        var types = metrics["by_question_type"]!.AsArray();
        Assert.Equal(downstream["n_closed"]!.GetValue<int>() + downstream["n_open"]!.GetValue<int>(), types.Sum(t => t!["questions"]!.GetValue<int>()));
        Assert.Contains(types, t => t!["group"]!.GetValue<string>().StartsWith("closed ") && t["group"]!.GetValue<string>().Length > "closed ".Length);
        foreach (var type in types)
            Assert.Equal(["downstream", "majority-answer", "question-only"], type!["strict_accuracy"]!.AsObject().Select(kv => kv.Key));
        var markdown = File.ReadAllText(Path.Combine(folder, "report.md"));
        Assert.Contains("## Last stage by question type (strict accuracy)", markdown);
        Assert.Contains("| downstream |", markdown);
        Assert.Contains("report-images/", markdown);
        Assert.Contains("LLaVA-Med v1.0.0's run_eval.py rule", markdown);
        Assert.Contains("Before that fix (commit bdd4809)", markdown);
        var html = File.ReadAllText(Path.Combine(folder, "report.html"));
        Assert.Contains("data:image/png;base64,", html);
        Assert.Contains("Training loss per phase", html);
        Assert.Contains("Strict accuracy by question type after downstream", html);
        Assert.Equal(1, html.Split("window.Plotly === 'undefined'").Length - 1);
        Assert.Contains("[evaluate-downstream]", output.ToString());
        foreach (var stage in new[] { "stage1-alignment", "stage2-instruction", "stage3-downstream" })
            Assert.True(File.Exists(Path.Combine(folder, stage, "config.json")), stage);
    }

    [Fact]
    public void QuestionsAreGroupedByAnswerTypeAndQuestionType()
    {
        LlavaSample Question(string id, string answerType) => new(id, "x.png", [ConversationTurn.Human("<image>\nq?"), ConversationTurn.Gpt("yes")], answerType);
        var group = CurriculumRun.GroupByQuestionType(new Dictionary<string, string?> { ["1"] = "POS", ["2"] = " SIZE ", ["3"] = null });
        Assert.Equal("closed POS", group(Question("1", "CLOSED")));
        Assert.Equal("open SIZE", group(Question("2", "OPEN")));
        Assert.Equal("closed", group(Question("3", "CLOSED ")));
        Assert.Equal("open", group(Question("4", "OPEN")));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void SameSeedGivesTheSameNumbers()
    {
        var cache = Path.Combine(temporary, "cache");
        JsonArray Numbers(string name)
        {
            var result = CurriculumRun.Prepare(new CurriculumOptions { OutputDir = Path.Combine(temporary, name), Quick = true, Seed = 2, CacheFolder = cache }).RunAll();
            var metrics = CurriculumReport.Metrics(result);
            return new JsonArray(metrics["stages"]!.AsArray().Append(metrics["starting_model"])
                .Select(s => (JsonNode)new JsonObject { ["vqa"] = s!["vqa"]!.DeepClone(), ["captions"] = s["captions"]!.DeepClone(), ["chat"] = s["chat"]!.DeepClone() })
                .ToArray());
        }
        Assert.Equal(Numbers("first").ToJsonString(), Numbers("second").ToJsonString());
    }

    /// <summary>Stage 3 on the real VQA-RAD (../shared): the quick scale trains on all 3,064 training questions and
    /// evaluates on every 8th of the 451 test questions; the report carries the image-blind baselines.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void VqaRadStageThreeIsComparedWithImageBlindBaselines()
    {
        var root = SharedFixtures.Require("datasets", "vqa-rad");
        var output = new StringWriter();
        var folder = Path.Combine(temporary, "vqa-rad");
        var exitCode = CliApp.Build().Parse(["curriculum", "--quick", "--out", folder, "--vqa", "vqa-rad", "--vqa-root", root])
            .Invoke(new InvocationConfiguration { Output = output, Error = output });
        TestContext.Current.TestOutputHelper?.WriteLine(output.ToString());
        Assert.Equal(0, exitCode);

        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json")))!;
        Assert.Equal("vqa-rad", metrics["vqa_set"]!.GetValue<string>());
        Assert.Equal("float32", metrics["dtype"]!.GetValue<string>());
        Assert.Equal("cpu", metrics["device"]!.GetValue<string>());
        var baselines = metrics["baselines"]!.AsArray();
        Assert.Equal(["majority-answer", "question-only"], baselines.Select(b => b!["name"]!.GetValue<string>()));
        var evaluated = metrics["stages"]![2]!["vqa"]!["llava-med-v1"]!;
        Assert.Equal(60, evaluated["n_closed"]!.GetValue<int>() + evaluated["n_open"]!.GetValue<int>());
        // The majority answer of closed VQA-RAD questions ("no") is right about half the time.
        var majority = baselines[0]!["vqa"]!["strict"]!["closed_accuracy"]!.GetValue<double>();
        Assert.InRange(majority, 0.3, 0.7);
        Assert.Contains("3064 training questions", File.ReadAllText(Path.Combine(folder, "report.md")));
        Assert.Contains("best image-blind baseline", File.ReadAllText(Path.Combine(folder, "report.md")));
        Assert.True(File.Exists(Path.Combine(folder, "stage3-downstream", "model.safetensors")));
    }

    [Fact]
    public void VqaRadWithoutRootIsAnError()
    {
        var error = new StringWriter();
        var exitCode = CliApp.Build().Parse(["curriculum", "--vqa", "vqa-rad", "--out", temporary])
            .Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = error });
        Assert.Equal(1, exitCode);
        Assert.Contains("--vqa-root", error.ToString());
    }

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
        var scale = Tiny with { VqaTestQuestions = 12, CaptionFigures = 2, ChatQuestions = 3 };
        var corpus = SyntheticCorpus.EnsureGenerated(cache, scale.Corpus with { Seed = 3 }).Layout;
        var root = VqaRoot(corpus, Path.Combine(temporary, "vqa-root"));
        var options = new CurriculumOptions
        {
            OutputDir = Path.Combine(temporary, "run"), Seed = 3, BaseScale = scale, CacheFolder = cache, VqaRoot = root,
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
        Assert.Equal((scale.DownstreamStage.BatchSize, scale.DownstreamStage.LearningRate, scale.DownstreamStage.PackPerImage, scale.DownstreamEpochs),
                     (notebook.Stage("downstream").BatchSize, notebook.Stage("downstream").LearningRate, notebook.Stage("downstream").PackPerImage,
                      notebook.Stage("downstream").Epochs));
        Assert.Equal(Path.Combine(root, VqaRad.ImageFolder), notebook.Evaluation.VqaImageRoot);
        Assert.Equal(scale.VqaTestQuestions, notebook.Evaluation.VqaTest.Count);
        Assert.Equal("vqa-rad", result.VqaSet);
        Assert.Contains("stage_args.json", File.ReadAllText(Path.Combine(options.OutputDir, "report.md")));
    }
}
