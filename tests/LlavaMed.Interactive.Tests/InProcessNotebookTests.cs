using LlavaMed.Data;
using LlavaMed.Data.Exploration;
using LlavaMed.Data.SelfInstruct;
using LlavaMed.Data.Synthetic;
using LlavaMed.Evaluation;
using LlavaMed.Inference;
using Microsoft.Data.Analysis;
using static TorchSharp.torch;

namespace LlavaMed.Interactive.Tests;

/// <summary>The cheap notebooks, run in a kernel in the test process; their results are read from the kernel's
/// variables.</summary>
public sealed class InProcessNotebookTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public async Task QuickstartAsksTheQuestionItsParameterCellIsGiven()
    {
        using var kernel = await InProcessNotebook.RunAsync("00-quickstart.ipynb", new Dictionary<string, string>
        {
            ["question"] = "\"Is there a nodule in the left lung?\"", ["maxNewTokens"] = "4",
        });

        Assert.Contains("Is there a nodule in the left lung? [/INST]", kernel.Variable<string>("prompt"));
        Assert.Contains(-200L, kernel.Variable<IEnumerable<long>>("ids"));
        var pixels = kernel.Variable<Tensor>("pixels");
        Assert.Equal([1L, 3L], pixels.shape[..2]);
        Assert.Equal(10, kernel.Variable<System.Collections.IEnumerable>("top").Cast<object>().Count());
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task SelfInstructNotebookTurnsEightFiguresIntoRecords()
    {
        using var kernel = await InProcessNotebook.RunAsync("02-self-instruct.ipynb");

        var result = kernel.Variable<SelfInstructResult>("result");
        Assert.Equal(8, result.Items.Count);
        Assert.NotNull(kernel.Variable<SelfInstructItem>("item").Sample);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task ChatNotebookAnswersEveryTurnWithTheTokenBudgetItIsGiven()
    {
        using var kernel = await InProcessNotebook.RunAsync("08-chat.ipynb", new Dictionary<string, string> { ["maxNewTokens"] = "3" });

        var chat = kernel.Variable<ChatSession>("chat");
        Assert.Equal(3, chat.Options.MaxNewTokens);
        Assert.All(new[] { "answer1", "answer2" }, name => Assert.NotNull(kernel.Variable<string>(name)));
        Assert.NotEmpty(kernel.Variable<List<string>>("pieces"));
        // The last turns are the VQA-RAD ones when ../shared has the data set, else the three of the first image.
        Assert.Contains(chat.Messages.Count, new[] { 4, 6 });
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task DataNotebookCountsEveryFigureOnceAndFindsEveryImage()
    {
        using var kernel = await InProcessNotebook.RunAsync("01-data.ipynb");

        var figures = kernel.Variable<DataFrame>("figures");
        Assert.Equal(kernel.Variable<SyntheticCorpusOptions>("corpusOptions").Figures, figures.Rows.Count);
        var domainsBySplit = kernel.Variable<DataFrame>("domainsBySplit");
        Assert.Equal(["domain", "test", "train", "total"], domainsBySplit.Columns.Select(c => c.Name));
        Assert.Equal(figures.Rows.Count, DatasetViews.Numbers(domainsBySplit, DatasetViews.Total).Sum());
        Assert.Equal(0, kernel.Variable<DataFrame>("missing").Rows.Count);
        // VQA-RAD's section runs when ../shared has the data set: its 3,515 questions, every image present.
        if (File.Exists(Path.Combine(kernel.Variable<string>("vqaRadFolder"), "testset.json")))
        {
            var vqaRad = kernel.Variable<DataFrame>("vqaRad");
            Assert.Equal(3515, vqaRad.Rows.Count);
            Assert.Equal(0, DatasetViews.MissingImages(vqaRad, kernel.Variable<string>("vqaRadImages")).Rows.Count);
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task EvaluationNotebookScoresTheModelAndBothBaselinesOnEveryQuestionAndExportsEachFigure()
    {
        var output = Directory.CreateTempSubdirectory("llavamed-06-evaluation-");
        try
        {
            using var kernel = await InProcessNotebook.RunAsync("06-evaluation.ipynb", new Dictionary<string, string>
            {
                ["testQuestions"] = "12", ["maxNewTokens"] = "2", ["outputFolder"] = $"@\"{output.FullName}\"",
            });

            var test = kernel.Variable<IReadOnlyList<LlavaSample>>("test");
            Assert.Equal(12, test.Count);
            var systems = kernel.Variable<ScoredSystem[]>("systems");
            Assert.Equal([VqaBaselines.MajorityAnswerModelId, VqaBaselines.QuestionOnlyModelId], systems.Skip(1).Select(s => s.Name));
            Assert.All(systems, s => Assert.Equal(test.Count, s.Answers.Count));
            var reports = kernel.Variable<List<VqaReport>>("reports");
            Assert.All(reports, r => Assert.Equal(test.Count, r.Strict!.Open + r.Strict.Closed));
            Assert.Equal(reports[0].Strict!.YesNo, kernel.Variable<YesNoConfusion>("confusion").Total);
            var figuresFolder = kernel.Variable<string>("figuresFolder");
            foreach (var name in kernel.Variable<Dictionary<string, LlavaMed.Plotting.Chart>>("figures").Keys)
                Assert.All(new[] { ".png", ".svg" }, extension => Assert.True(File.Exists(Path.Combine(figuresFolder, name + extension)), name + extension));
            Assert.True(File.Exists(Path.Combine(figuresFolder, "figures.html")));
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    [Fact]
    public void EveryNotebookHasOneParameterCellThatARunCanSet()
    {
        foreach (var path in Directory.EnumerateFiles(InProcessNotebook.NotebooksFolder, "*.ipynb"))
        {
            var cell = InProcessNotebook.ParameterCellSource(File.ReadAllText(path));
            Assert.StartsWith("// Parameters", cell);
            Assert.NotEmpty(NotebookParameters.Names(cell));
        }
    }

    [Fact]
    public void ParametersReplaceOneLineDeclarationsAndUnknownNamesAreErrors()
    {
        const string Cell = "var scale = \"quick\";   // \"full\" for the real run\nstring[] only = [];\nvar derived = scale == \"full\";\n";

        Assert.Equal(["scale", "only", "derived"], NotebookParameters.Names(Cell));
        Assert.Equal("var scale = \"full\";   // \"full\" for the real run\nstring[] only = [\"default\"];\nvar derived = scale == \"full\";\n",
                     NotebookParameters.Apply(Cell, new Dictionary<string, string> { ["scale"] = "\"full\"", ["only"] = "[\"default\"]" }));
        var error = Assert.Throws<ArgumentException>(() => NotebookParameters.Apply(Cell, new Dictionary<string, string> { ["seed"] = "1" }));
        Assert.Contains("declares no 'seed' on one line (it declares: scale, only, derived)", error.Message);
    }
}
