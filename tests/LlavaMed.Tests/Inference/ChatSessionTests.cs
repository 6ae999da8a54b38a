using LlavaMed.Images;
using LlavaMed.Inference;
using LlavaMed.Text;

namespace LlavaMed.Tests.Inference;

public sealed class ChatSessionTests
{
    static LlavaPipeline LoadFixture() =>
        LlavaPipeline.Load(SharedFixtures.V15Tiny, new PipelineOptions { TokenizerFolder = SharedFixtures.Tokenizer });

    static RgbImage Image(string name) => RgbImage.Load(Path.Combine(SharedFixtures.ImagePreprocess, name));

    [Fact]
    public void TwoTurnMistralInstructPromptPutsTheImageInTheFirstTurnAndClosesAnswersWithEos()
    {
        using var pipeline = LoadFixture();
        var prompt = pipeline.BuildPrompt([
            ChatMessage.User("Is there a nodule?"), ChatMessage.Assistant("Yes, in the left lung."),
            ChatMessage.User("<image> How large is it?"),
        ]);
        Assert.Equal("[INST] <image>\nIs there a nodule? [/INST] Yes, in the left lung. </s>[INST] <image> How large is it? [/INST]", prompt);
        Assert.Equal(pipeline.BuildPrompt("Is there a nodule?"), pipeline.BuildPrompt([ChatMessage.User("Is there a nodule?")]));
    }

    [Fact]
    public void ConversationsMustAlternateAndEndWithTheUser()
    {
        using var pipeline = LoadFixture();
        Assert.Throws<ArgumentException>(() => pipeline.BuildPrompt([ChatMessage.User("a"), ChatMessage.User("b")]));
        Assert.Throws<ArgumentException>(() => pipeline.BuildPrompt([ChatMessage.User("a"), ChatMessage.Assistant("b")]));
        Assert.Throws<ArgumentException>(() => pipeline.BuildPrompt([]));
    }

    [Fact]
    public void TheSecondTurnSeesTheFirstAnswerInThePrompt()
    {
        using var pipeline = LoadFixture();
        var image = Image("img_300x200.png");
        var session = new ChatSession(pipeline, image, pipeline.DefaultGenerationOptions(10));
        Assert.Null(session.Prompt);

        var first = string.Concat(session.AskStreaming("Is there a nodule?"));
        Assert.Equal("[INST] <image>\nIs there a nodule? [/INST]", session.Prompt);
        Assert.Equal(pipeline.Ask(image, "Is there a nodule?", pipeline.DefaultGenerationOptions(10)).Trim(), first.Trim());
        Assert.NotEmpty(first.Trim());

        var second = session.Ask("Where is it?");
        TestContext.Current.TestOutputHelper?.WriteLine($"{session.Prompt}\n-> {second}");
        Assert.Equal($"[INST] <image>\nIs there a nodule? [/INST] {first.Trim()} </s>[INST] Where is it? [/INST]", session.Prompt);
        Assert.Equal(string.Concat(pipeline.StreamAnswer(image, session.Prompt!, session.Options)), second);
        Assert.Equal([ChatRole.User, ChatRole.Assistant, ChatRole.User, ChatRole.Assistant], session.Messages.Select(m => m.Role));
        Assert.Equal(second.Trim(), session.Messages[^1].Content);
        Assert.Equal(session.Prompt, pipeline.BuildPrompt([.. session.Messages.Take(3)]));
    }

    [Fact]
    public void ResetStartsAFreshConversationWithTheSameOrANewImage()
    {
        using var pipeline = LoadFixture();
        var options = pipeline.DefaultGenerationOptions(8);
        var session = new ChatSession(pipeline, Image("img_300x200.png"), options);
        session.Ask("Is there a nodule?");
        session.Ask("Where is it?");

        session.Reset();
        Assert.Empty(session.Messages);
        Assert.Null(session.Prompt);
        Assert.Equal(pipeline.Ask(session.Image, "Where is it?", options), session.Ask("Where is it?"));
        Assert.Equal(pipeline.BuildPrompt("Where is it?"), session.Prompt);

        var other = Image("img_256x256.png");
        session.Reset(other);
        Assert.Same(other, session.Image);
        Assert.Empty(session.Messages);
        Assert.Equal(pipeline.Ask(other, "What is this?", options), session.Ask("What is this?"));
    }

    [Fact]
    public void AStreamStoppedEarlyRecordsWhatWasShown()
    {
        using var pipeline = LoadFixture();
        var session = new ChatSession(pipeline, Image("img_300x200.png"), pipeline.DefaultGenerationOptions(10));
        var shown = session.AskStreaming("Is there a nodule?").First();
        Assert.Equal(2, session.Messages.Count);
        Assert.Equal(shown.Trim(), session.Messages[1].Content);

        // A turn that fails before any text (here: a prompt longer than the context) is not recorded.
        var prompt = session.Prompt;
        var tooLong = string.Join(' ', Enumerable.Repeat("nodule", 3000));
        var error = Assert.Throws<ArgumentException>(() => session.Ask(tooLong));
        Assert.Contains("tokenizer_model_max_length 2048", error.Message);
        Assert.Equal(2, session.Messages.Count);
        Assert.Equal(prompt, session.Prompt);
        Assert.Throws<ArgumentException>(() => session.AskStreaming("  "));
    }
}
