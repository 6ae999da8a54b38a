using LlavaMed.Data.SelfInstruct;

namespace LlavaMed.Tests.Data.SelfInstruct;

public sealed class ConversationParserTests
{
    [Fact]
    public void ParsesARealisticReply()
    {
        const string reply = """
            User: What type of imaging is shown in the image?

            Assistant: The image is a chest X-ray, which shows cardiomegaly.

            User: Is there any fluid around the lungs?
            Assistant: Yes, there is a right-sided pleural effusion.
            It appears moderate in size.

            User: What should the patient do?

            Assistant: It is important to consult a healthcare professional.
            """;
        var parsed = ConversationParser.Parse(reply);
        Assert.Empty(parsed.Problems);
        Assert.Equal([
            new ConversationPair("What type of imaging is shown in the image?", "The image is a chest X-ray, which shows cardiomegaly."),
            new ConversationPair("Is there any fluid around the lungs?", "Yes, there is a right-sided pleural effusion.\nIt appears moderate in size."),
            new ConversationPair("What should the patient do?", "It is important to consult a healthcare professional."),
        ], parsed.Pairs);
    }

    [Fact]
    public void ToleratesPreambleMarkdownCaseAndWindowsLineEnds()
    {
        var reply = "Sure! Here is the conversation:\r\n\r\n**User:** Which stain?\r\n**Assistant:** H&E.\r\nuser: Any arrows?\r\nASSISTANT: They mark mitoses.";
        var parsed = ConversationParser.Parse(reply);
        Assert.Equal([new ConversationPair("Which stain?", "H&E."), new ConversationPair("Any arrows?", "They mark mitoses.")], parsed.Pairs);
    }

    [Fact]
    public void MarkersInsideALineDoNotSplitIt()
    {
        var parsed = ConversationParser.Parse("User: Quote the label?\nAssistant: The label reads \"User: none\" in the corner.");
        Assert.Equal("The label reads \"User: none\" in the corner.", Assert.Single(parsed.Pairs).Answer);
    }

    [Fact]
    public void BrokenBlocksAreSkippedAndReported()
    {
        const string reply = """
            Assistant: I will start without a question.
            User: First question with no answer
            User: Second question?
            Assistant: Answer one.
            Assistant: A second answer to the same question.
            User: Third?
            Assistant: Kept.
            User:
            Assistant: Empty question.
            """;
        var parsed = ConversationParser.Parse(reply);
        Assert.Equal([new ConversationPair("Third?", "Kept.")], parsed.Pairs);
        Assert.Equal(4, parsed.Problems.Count);
        Assert.Contains(parsed.Problems, p => p.Contains("before any User"));
        Assert.Contains(parsed.Problems, p => p.Contains("without an answer"));
        Assert.Contains(parsed.Problems, p => p.Contains("2 answers"));
        Assert.Contains(parsed.Problems, p => p.Contains("empty"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("I'm sorry, I cannot help with that.")]
    public void ARefusalOrEmptyReplyHasNoPairs(string reply)
    {
        var parsed = ConversationParser.Parse(reply);
        Assert.Empty(parsed.Pairs);
        Assert.Single(parsed.Problems);
    }
}
