using LlavaMed.Data;
using LlavaMed.Data.SelfInstruct;

namespace LlavaMed.Tests.Data.SelfInstruct;

public sealed class CleaningRulesTests
{
    static readonly CleaningRules Rules = CleaningRules.Load();

    static string? Clean(string answer, string question = "What is shown?") => Rules.CleanPair(new(question, answer)).Kept?.Answer;

    [Theory]
    [InlineData("I'm sorry, but I cannot see the image.")]
    [InlineData("Without access to the actual image, I can only guess.")]
    [InlineData("As an AI, I am UNABLE TO VIEW images.")]
    public void RefusalsAreDropped(string answer) => Assert.Null(Clean(answer));

    [Theory]
    [InlineData("Based on the caption, the CT scan shows a mass.", "The CT scan shows a mass.")]
    [InlineData("According to the figure caption, there is an effusion.", "There is an effusion.")]
    [InlineData("Yes, according to the description, the MRI shows edema.", "The MRI shows edema.")]
    // Prefixes match whatever the capitalisation.
    [InlineData("According to the Description, the lesion is a CT finding.", "The lesion is a CT finding.")]
    public void LeadInPrefixesAreCutAndTheRestKeepsItsCase(string answer, string expected) => Assert.Equal(expected, Clean(answer));

    [Fact]
    public void InlinePhrasesAreRemoved()
    {
        Assert.Equal("There is a nodule in the left lung.", Clean("There is a nodule in the left lung, as mentioned in the figure caption."));
        Assert.Equal("The lesion is hyperintense.", Clean("In the context provided, the lesion is hyperintense."));
    }

    [Theory]
    [InlineData("The description says it is benign.")]
    [InlineData("The caption does not say.")]
    public void AnswersStillMentioningTheTextAreDropped(string answer) => Assert.Null(Clean(answer));

    [Fact]
    public void ForbiddenWordsAreCaseSensitiveAsInTheReference() =>
        Assert.Equal("Description of the lesion: round and smooth.", Clean("Description of the lesion: round and smooth."));

    [Fact]
    public void QuestionsAboutTheCaptionAreDropped()
    {
        Assert.Null(Clean("A mass.", "What does the Caption say?"));
        Assert.Equal("A mass.", Clean("A mass.", "What does the image show?"));
    }

    [Fact]
    public void CleanSplitsKeptFromDroppedWithReasons()
    {
        var result = Rules.Clean([new("Q1?", "Fine answer."), new("Q2?", "Sorry, I can't."), new("Q3?", "Per the caption, yes.")]);
        Assert.Equal(["Q1?"], result.Kept.Select(p => p.Question));
        Assert.Equal(["refusal: \"sorry\"", "answer mentions \"caption\""], result.Dropped.Select(d => d.Reason));
    }

    [Fact]
    public void ARulesFileReplacesTheDefaults()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{"refusal_phrases": ["nope"], "lead_in_prefixes": [], "inline_phrases": [], "forbidden_words": []}""");
            var rules = CleaningRules.Load(path);
            Assert.Null(rules.CleanPair(new("Q?", "Nope.")).Kept);
            Assert.NotNull(rules.CleanPair(new("What does the caption say?", "The caption says sorry.")).Kept);
            File.WriteAllText(path, """{"refusal_phrases": ["x"]}""");
            Assert.Throws<DataFormatException>(() => CleaningRules.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
