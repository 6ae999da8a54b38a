using System.Text.Json.Nodes;
using LlavaMed.Data;
using LlavaMed.Data.SelfInstruct;
using Microsoft.Extensions.AI;

namespace LlavaMed.Tests.Data.SelfInstruct;

public sealed class SelfInstructPromptTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-si-prompt-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    internal static readonly FigureCaptionRecord ChestFigure = new(
        "18627621_F2", "Figure 2",
        "Chest X-ray. Cardiomegaly with diffuse bilateral interstitial infiltrates and a right-sided pleural effusion.",
        ["His respiratory status continued to worsen and on hospital day number 14 , he required intubation ( Figure 2 ) .",
         "A second sentence citing ( Figure 2 ) ."],
        new JsonObject { ["chest_xray"] = true, ["mri"] = false, ["ct_scan"] = false, ["histology"] = false, ["gross"] = false });

    static SelfInstructPrompt TwoShotPrompt() => new("SYSTEM RULES",
    [
        new(new FigureCaptionRecord("a", "Fig. 1", "Gross specimen, tan surface.", ["The tumour was tan ( Fig. 1 ) ."]),
            [new("What colour is it?", "Tan."), new("Is it soft?", "It appears soft.")]),
        new(new FigureCaptionRecord("b", "Figure 3", "Axial CT of the chest.", []),
            [new("Which modality?", "CT.")]),
    ]);

    [Fact]
    public void MessagesWithoutMentionsFollowThePapersStructure()
    {
        var messages = TwoShotPrompt().BuildMessages(ChestFigure, inlineMentions: false);
        Assert.Equal([ChatRole.System, ChatRole.User, ChatRole.Assistant, ChatRole.User, ChatRole.Assistant, ChatRole.User],
                     messages.Select(m => m.Role));
        Assert.Equal([
            "SYSTEM RULES",
            "Figure Caption:\nFig. 1: Gross specimen, tan surface.",
            "User: What colour is it?\n\nAssistant: Tan.\n\nUser: Is it soft?\n\nAssistant: It appears soft.",
            "Figure Caption:\nFigure 3: Axial CT of the chest.",
            "User: Which modality?\n\nAssistant: CT.",
            "Figure Caption:\nFigure 2: Chest X-ray. Cardiomegaly with diffuse bilateral interstitial infiltrates and a right-sided pleural effusion.",
        ], messages.Select(m => m.Text));
    }

    [Fact]
    public void MessagesWithMentionsAddAFigureContextBulletPerMention()
    {
        var messages = TwoShotPrompt().BuildMessages(ChestFigure, inlineMentions: true);
        // Few-shot figures are shown the same way as the query: with their context when they have one.
        Assert.Equal("Figure Caption:\nFig. 1: Gross specimen, tan surface.\n\nFigure Context:\n\t- The tumour was tan ( Fig. 1 ) .",
                     messages[1].Text);
        Assert.Equal("Figure Caption:\nFigure 3: Axial CT of the chest.", messages[3].Text);
        Assert.Equal("Figure Caption:\nFigure 2: Chest X-ray. Cardiomegaly with diffuse bilateral interstitial infiltrates and a right-sided pleural effusion.\n\n"
                     + "Figure Context:\n"
                     + "\t- His respiratory status continued to worsen and on hospital day number 14 , he required intubation ( Figure 2 ) .\n"
                     + "\t- A second sentence citing ( Figure 2 ) .",
                     messages[^1].Text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheFigureCanBeReadBackFromItsMessage(bool inlineMentions)
    {
        var parsed = SelfInstructPrompt.ParseFigure(SelfInstructPrompt.FormatFigure(ChestFigure, inlineMentions))!;
        Assert.Equal(ChestFigure.FigLabel, parsed.FigLabel);
        Assert.Equal(ChestFigure.FigCaption, parsed.FigCaption);
        Assert.Equal(inlineMentions ? ChestFigure.InTextMentions : [], parsed.InTextMentions);
        Assert.Null(SelfInstructPrompt.ParseFigure("Please summarise this."));
    }

    [Fact]
    public void DefaultPromptIsOursAndNamesTheRules()
    {
        var prompt = SelfInstructPrompt.Load();
        Assert.Contains("User:", prompt.SystemPrompt);
        Assert.Contains("medical advice", prompt.SystemPrompt);
        Assert.Contains("2 to 3 turns", prompt.SystemPrompt);
        Assert.True(prompt.FewShot.Count >= 2);
        Assert.All(prompt.FewShot, example => Assert.True(example.Conversation.Count >= 2));
    }

    [Fact]
    public void ThePapersPromptFilesLoadVerbatim()
    {
        // The paper's system text is an indented triple-quoted string: leading spaces and the trailing newline are kept.
        var systemPath = Path.Combine(temporary, "system.txt");
        File.WriteAllText(systemPath, "You are an AI assistant specialized in biomedical topics.\n\n  You are provided with ...\n  ");
        // instruct_few_shot_examples.fs dumped with json.dump: mentions as strings, extra keys (pmid, fig_id).
        var fewShotPath = Path.Combine(temporary, "fs.json");
        File.WriteAllText(fewShotPath, """
            [{"conversations": [{"from": "human", "value": "Which side?"}, {"from": "gpt", "value": "The right side."}],
              "domain": {"chest_xray": true, "ct_scan": false, "gross": false, "histology": false, "mri": false},
              "fig_caption": "Chest X-ray. Effusion.", "fig_id": "F2", "fig_label": "Figure 2",
              "in_text_mention": ["Worse on day 14 ( Figure 2 ) ."], "pair_id": "18627621_F2", "pmid": "18627621"},
             {"conversations": [{"from": "human", "value": "Where?"}, {"from": "gpt", "value": "Upper lobe."}],
              "fig_caption": "CT.", "fig_label": "Figure 4", "in_text_mention": [{"tokens": "CT scans ( Figure 4 ) .", "entities": []}],
              "pair_id": "16734899_F4"}]
            """);
        var prompt = SelfInstructPrompt.Load(systemPath, fewShotPath);
        var messages = prompt.BuildMessages(ChestFigure, inlineMentions: true);
        Assert.Equal(File.ReadAllText(systemPath), messages[0].Text);
        Assert.Equal("Figure Caption:\nFigure 2: Chest X-ray. Effusion.\n\nFigure Context:\n\t- Worse on day 14 ( Figure 2 ) .", messages[1].Text);
        Assert.Equal("User: Which side?\n\nAssistant: The right side.", messages[2].Text);
        Assert.Equal("Figure Caption:\nFigure 4: CT.\n\nFigure Context:\n\t- CT scans ( Figure 4 ) .", messages[3].Text);
    }

    [Fact]
    public void AFewShotFileWithBrokenTurnsNamesTheExample()
    {
        var path = Path.Combine(temporary, "bad.json");
        File.WriteAllText(path, """[{"pair_id": "x", "fig_caption": "c", "conversations": [{"from": "gpt", "value": "a"}]}]""");
        var error = Assert.Throws<DataFormatException>(() => SelfInstructPrompt.Load(fewShotPath: path));
        Assert.Equal("[0]", error.Location);
    }
}
