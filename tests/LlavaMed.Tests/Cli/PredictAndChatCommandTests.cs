using System.CommandLine;
using LlavaMed.Cli;
using LlavaMed.Data;
using LlavaMed.Evaluation;
using LlavaMed.Tests.Inference;

namespace LlavaMed.Tests.Cli;

/// <summary>The <c>predict</c> and <c>chat</c> commands, run in-process.</summary>
public sealed class PredictAndChatCommandTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-predict-cli-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    static (int ExitCode, string Output, string Error) Chat(string input, params string[] extra) =>
        CliRunner.Run(new RootCommand { ChatCommand.Create(new StringReader(input)) },
            ["chat", "--model", SharedFixtures.V15Tiny, "--tokenizer", SharedFixtures.Tokenizer,
             "--image", Path.Combine(SharedFixtures.ImagePreprocess, "img_300x200.png"), "--max-new-tokens", "8", .. extra]);

    [Fact]
    public void PredictWritesAnswersReportsThroughputAndResumes()
    {
        var questions = VqaRadQuestions.Write(temporary, 4);
        var answers = Path.Combine(temporary, "out", "answers.jsonl");
        string[] args = ["predict", "--model", SharedFixtures.V15Tiny, "--tokenizer", SharedFixtures.Tokenizer,
                         "--questions", questions, "--image-root", VqaRadQuestions.ImageRoot, "--out", answers,
                         "--batch-size", "3", "--max-new-tokens", "8"];
        var (code, output, error) = CliRunner.Run(CliApp.Build(), args);

        Assert.Equal(0, code);
        Assert.Contains("4 questions: 0 already answered, 4 to answer", error);
        Assert.Contains("template mistral_instruct, temperature 0, batch size 3", error);
        Assert.Contains("\ranswered 3/4", error);
        Assert.Contains("\ranswered 4/4", error);
        Assert.Matches(@"answered 4 questions in [\d.]+ s: [\d.]+ questions/s, [\d.]+ generated tokens/s \(\d+ tokens\)", output);
        var records = AnswerRecord.ReadJsonl(answers);
        Assert.Equal(LlavaSample.ReadJsonArray(questions).Select(q => q.Id), records.Select(r => r.QuestionId));
        Assert.All(records, r => Assert.Equal("llava-med-v1.5-tiny", r.ModelId));

        var (again, againOutput, _) = CliRunner.Run(CliApp.Build(), args);
        Assert.Equal(0, again);
        Assert.Contains("nothing to do", againOutput);
        Assert.Equal(4, AnswerRecord.ReadJsonl(answers).Count);
    }

    [Fact]
    public void PredictNamesAMissingImageBeforeLoadingTheModel()
    {
        var questions = VqaRadQuestions.Write(temporary, 3, record => { record["image"] = "absent.jpg"; return record; });
        var answers = Path.Combine(temporary, "answers.jsonl");
        var (code, _, error) = CliRunner.Run(CliApp.Build(), "predict", "--model", Path.Combine(temporary, "no-model"),
                                   "--questions", questions, "--image-root", VqaRadQuestions.ImageRoot, "--out", answers);
        Assert.Equal(1, code);
        Assert.StartsWith("error: 3 of 3 images not found", error);
        Assert.Contains("absent.jpg (question 11)", error);
        Assert.False(File.Exists(answers));
    }

    [Fact]
    public void PredictHelpStatesTheLlavaMedV15Defaults()
    {
        var (_, output, _) = CliRunner.Run(CliApp.Build(), "predict", "--help");
        Assert.Contains("mistral_instruct", output);
        Assert.Contains("not model_vqa.py's vicuna_v1", output);
        Assert.Contains("0 = greedy", output);
        Assert.Contains("0.2", output);
    }

    [Fact]
    public void ChatAnswersTurnsAndHandlesCommands()
    {
        var other = Path.Combine(SharedFixtures.ImagePreprocess, "img_256x256.png");
        var (code, output, _) = Chat(string.Join('\n',
            "Is there a nodule?", "/prompt", "Where is it?", "/prompt", "/bogus", $"/image {other}", "/prompt",
            "What is this?", "/prompt", "/reset", "/prompt", "/image /no/such.png", ""));

        Assert.Equal(0, code);
        Assert.Contains("commands: /reset", output);
        Assert.Equal(3, output.Split("assistant> ").Length - 1);
        Assert.Contains("user> [INST] <image>\nIs there a nodule? [/INST]\n", output);
        Assert.Matches(@"\[INST\] <image>\nIs there a nodule\? \[/INST\] .* </s>\[INST\] Where is it\? \[/INST\]\n", output);
        Assert.Contains("unknown command /bogus", output);
        Assert.Contains($"image: {other} (256x256); new conversation", output);
        Assert.Contains("user> (no prompt yet: ask a question first)", output);
        Assert.Contains("user> [INST] <image>\nWhat is this? [/INST]\n", output);
        Assert.Contains("new conversation about the same image", output);
        Assert.Contains("error: cannot load /no/such.png", output);
    }

    [Fact]
    public void ChatStopsAtQuit()
    {
        var (code, output, _) = Chat("/quit\nIs there a nodule?\n");
        Assert.Equal(0, code);
        Assert.DoesNotContain("assistant> ", output);
    }
}
