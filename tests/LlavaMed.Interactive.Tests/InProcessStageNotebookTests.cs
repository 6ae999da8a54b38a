using LlavaMed.Curriculum;
using LlavaMed.Text;
using LlavaMed.Training;

namespace LlavaMed.Interactive.Tests;

/// <summary>One output folder for the three stage notebooks of a test run, so that 04 and 05 reuse what 03 (or
/// whichever ran first) trained, as they do for a user; a notebook that runs first builds its prerequisites itself.</summary>
public sealed class StageNotebookFolder : IDisposable
{
    public DirectoryInfo Folder { get; } = Directory.CreateTempSubdirectory("llavamed-stage-notebooks-in-process-");

    /// <summary>The parameters that point a stage notebook at <see cref="Folder"/>.</summary>
    public IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["outputDir"] = $"@\"{Folder.FullName}\"" };

    public void Dispose() => Folder.Delete(recursive: true);
}

/// <summary>Notebooks 03-05 (one curriculum stage each) in a kernel in the test process: the values behind their
/// tables and charts, read from the kernel's variables. The dotnet-repl runs in LlavaMed.Tests check the rendering.</summary>
public sealed class InProcessStageNotebookTests(StageNotebookFolder output) : IClassFixture<StageNotebookFolder>
{
    /// <summary>Runs <paramref name="notebookName"/> and checks what every stage notebook shows: the stage of the
    /// curriculum's presets it names, trained into its own folder with a finite loss per optimiser step and its
    /// effective hyper-parameters written beside the weights.</summary>
    async Task<KernelSession> RunStage(string notebookName, string stageName, string? previousStage = null)
    {
        var kernel = await InProcessNotebook.RunAsync(notebookName, output.Parameters);
        var stage = kernel.Variable<TrainingStage>("stage");
        Assert.Equal(stageName, stage.Name);
        var run = kernel.Variable<CurriculumRun>("run");
        Assert.Equal(run.Stage(stageName).OutputDir, stage.OutputDir);
        if (previousStage is not null) Assert.Equal(run.Stage(previousStage).OutputDir, stage.InitFrom);
        Assert.StartsWith(output.Folder.FullName, stage.OutputDir, StringComparison.Ordinal);
        var losses = kernel.Variable<LossCurves>("losses").ByPhase;
        var curve = Assert.Single(losses).Value;
        Assert.NotEmpty(curve);
        Assert.All(curve, loss => Assert.True(double.IsFinite(loss) && loss > 0, $"loss {loss}"));
        Assert.True(File.Exists(Path.Combine(stage.OutputDir, TrainingStage.ArgumentsFile)));
        Assert.True(File.Exists(Path.Combine(stage.OutputDir, "config.json")));
        return kernel;
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task AlignmentNotebookTrainsTheProjectorOnCaptionsAndCaptionsEveryHeldOutFigure()
    {
        using var kernel = await RunStage("03-stage1-alignment.ipynb", "alignment");

        var stage = kernel.Variable<TrainingStage>("stage");
        Assert.Equal(ConversationTemplate.Plain.Name, stage.Template.Name);
        Assert.Equal(TrainableSet.Projector, stage.Trainable);
        var scale = kernel.Variable<CurriculumScale>("curriculumScale");
        var evaluation = kernel.Variable<StageEvaluation>("evaluation");
        Assert.Equal(scale.CaptionFigures, evaluation.Captions.Count);
        Assert.Equal(scale.ChatQuestions, evaluation.Chat.Count);
        Assert.InRange(evaluation.Captions.TokenF1, 0, 1);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task InstructionNotebookStartsFromStageOneAndScoresTheSameChatQuestionsBeforeAndAfter()
    {
        using var kernel = await RunStage("04-stage2-instruction.ipynb", "instruction", previousStage: "alignment");

        Assert.Equal(TrainableSet.ProjectorAndLanguageModel, kernel.Variable<TrainingStage>("stage").Trainable);
        var before = kernel.Variable<StageEvaluation>("before");
        var after = kernel.Variable<StageEvaluation>("after");
        Assert.Equal(kernel.Variable<CurriculumScale>("curriculumScale").ChatQuestions, after.Chat.Count);
        Assert.Equal(before.Chat.Examples.Select(e => e.Question), after.Chat.Examples.Select(e => e.Question));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task VqaNotebookStartsFromStageTwoAndScoresEveryTestQuestion()
    {
        using var kernel = await RunStage("05-stage3-vqa.ipynb", "downstream", previousStage: "instruction");

        var evaluation = kernel.Variable<StageEvaluation>("evaluation");
        var questions = kernel.Variable<CurriculumScale>("curriculumScale").VqaTestQuestions;
        Assert.Equal(questions, evaluation.VqaAnswers.Count);
        Assert.Equal(questions, evaluation.Vqa.Strict!.Open + evaluation.Vqa.Strict.Closed);
        Assert.InRange(evaluation.StrictClosedAccuracy, 0, 1);
    }
}
