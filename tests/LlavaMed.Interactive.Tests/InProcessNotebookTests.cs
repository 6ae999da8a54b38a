using LlavaMed.Data.SelfInstruct;
using LlavaMed.Inference;
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
