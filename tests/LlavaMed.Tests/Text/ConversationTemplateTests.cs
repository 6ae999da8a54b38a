using System.Text.Json;
using LlavaMed.Text;

namespace LlavaMed.Tests.Text;

public class ConversationTemplateTests
{
    private const string V0System = "A chat between a curious human and an artificial intelligence assistant. "
                                    + "The assistant gives helpful, detailed, and polite answers to the human's questions.";

    [Fact]
    public void MistralInstructSingleTurnMatchesTheFixtureFormat()
    {
        var prompt = ConversationTemplate.MistralInstruct.Render(
            [ChatMessage.User(MultimodalPreprocessing.V15Question("What is shown in this image?"))]);
        Assert.Equal("[INST] <image>\nWhat is shown in this image? [/INST]", prompt);
    }

    [Fact]
    public void MistralInstructMultiTurnMatchesTheFixturePrompt()
    {
        var prompt = ConversationTemplate.MistralInstruct.Render(
        [
            ChatMessage.User("<image>\nWhat modality is this image?"),
            ChatMessage.Assistant("This is an axial CT scan of the abdomen."),
            ChatMessage.User("Is there a liver lesion?"),
        ]);
        Assert.Equal("[INST] <image>\nWhat modality is this image? [/INST] This is an axial CT scan of the abdomen. "
                     + "</s>[INST] Is there a liver lesion? [/INST]", prompt);
    }

    [Fact]
    public void Llama2StyleWrapsANonEmptySystemPromptIntoTheFirstInstructionOnly()
    {
        var withSystem = ConversationTemplate.MistralInstruct with { System = "Be brief." };
        var prompt = withSystem.Render([ChatMessage.User("Q1"), ChatMessage.Assistant("A1"), ChatMessage.User("Q2")]);
        Assert.Equal("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nQ1 [/INST] A1 </s>[INST] Q2 [/INST]", prompt);
        // LLaVA's llama_2 templates use sep "<s>", written before every instruction; get_prompt's lstrip("<s>")
        // removes the first one.
        var llama2 = withSystem with { Separator = "<s>" };
        Assert.Equal("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nQ1 [/INST] A1 </s><s>[INST] Q2 [/INST]",
            llama2.Render([ChatMessage.User("Q1"), ChatMessage.Assistant("A1"), ChatMessage.User("Q2")]));
        Assert.Throws<ArgumentException>(() => withSystem.Render([ChatMessage.Assistant("A")]));
    }

    [Fact]
    public void VicunaV1()
    {
        var template = ConversationTemplate.ByName("vicuna_v1");
        Assert.Equal("A chat between a curious user and an artificial intelligence assistant. The assistant gives "
                     + "helpful, detailed, and polite answers to the user's questions. USER: <image>\nQ ASSISTANT:",
            template.Render([ChatMessage.User("<image>\nQ")]));
        // LLaVA-Med's TWO style strips messages and writes "</s> " between rounds.
        Assert.EndsWith(" USER: Q1 ASSISTANT: A1</s> USER: Q2 ASSISTANT:",
            template.Render([ChatMessage.User(" Q1 "), ChatMessage.Assistant("A1 "), ChatMessage.User("Q2")]));
        Assert.EndsWith(" USER: Q1 ASSISTANT: A1</s>",
            template.Render([ChatMessage.User("Q1"), ChatMessage.Assistant("A1")], addGenerationPrompt: false));
        // Upstream LLaVA's TWO style: no stripping, no space after "</s>".
        Assert.EndsWith(" USER: Q1 ASSISTANT: A1</s>USER: Q2 ASSISTANT:", (template with { TrimsTwoStyleTurns = false })
            .Render([ChatMessage.User("Q1"), ChatMessage.Assistant("A1"), ChatMessage.User("Q2")]));
        Assert.Equal(["</s>"], template.StopStrings);
        Assert.StartsWith("A chat between a curious human", ConversationTemplate.ByName("llava_v1").Render([ChatMessage.User("Q")]));
    }

    [Fact]
    public void LlavaV0()
    {
        var template = ConversationTemplate.ByName("llava_v0");
        Assert.Equal(V0System + "###Human: <image>\nQ###Assistant:", template.Render([ChatMessage.User("<image>\nQ")]));
        Assert.Equal(V0System + "###Human: Q###Assistant: A###Human: Q2###",
            template.Render([ChatMessage.User("Q"), ChatMessage.Assistant("A"), ChatMessage.User("Q2")], addGenerationPrompt: false));
        Assert.Equal(["###"], template.StopStrings);
    }

    [Fact]
    public void SimpleReproducesTheV10ReferencePrompt()
    {
        using var caseJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedFixtures.V10Tiny, "case.json")));
        var question = caseJson.RootElement.GetProperty("question").GetString()!;
        var expected = caseJson.RootElement.GetProperty("prompt").GetString()!;
        // model_vqa_med.py appends only the user turn, so the prompt ends with "###", not "###Assistant:".
        var prompt = ConversationTemplate.ByName("simple").Render(
            [ChatMessage.User(MultimodalPreprocessing.V10Question(question, patchCount: 16, useImStartEnd: true))],
            addGenerationPrompt: false);
        Assert.Equal(expected, prompt);
        Assert.EndsWith("<im_end>###Assistant:", ConversationTemplate.Simple.Render(
            [ChatMessage.User(MultimodalPreprocessing.V10Question(question, 16, true))]));
    }

    [Fact]
    public void PlainIsImageThenTextThenNewline()
    {
        Assert.Equal("<image>\n", ConversationTemplate.Plain.Render([ChatMessage.User("<image>")]));
        Assert.Equal("<image>\nA caption.", ConversationTemplate.Plain.Render(
            [ChatMessage.User("<image>"), ChatMessage.Assistant("A caption.")]));
        Assert.Equal(["\n"], ConversationTemplate.Plain.StopStrings);
    }

    [Fact]
    public void LookupByName()
    {
        foreach (var name in new[] { "mistral_instruct", "vicuna_v1", "llava_v1", "llava_v0", "simple", "plain" })
            Assert.Equal(name, ConversationTemplate.ByName(name).Name);
        Assert.Same(ConversationTemplate.VicunaV1, ConversationTemplate.ByName("v1"));
        Assert.Same(ConversationTemplate.Plain, ConversationTemplate.ByName("v0_plain"));
        Assert.False(ConversationTemplate.TryGetByName("nope", out _));
        Assert.Throws<KeyNotFoundException>(() => ConversationTemplate.ByName("nope"));
    }

    [Fact]
    public void MoveImageToFrontLikePreprocessMultimodal()
    {
        var turns = MultimodalPreprocessing.MoveImageToFront(
            [ConversationTurn.Human("  Q? <image> "), ConversationTurn.Gpt("A"), ConversationTurn.Human("<image>")]);
        Assert.Equal(["<image>\nQ?", "A", "<image>"], turns.Select(t => t.Value));
        var wrapped = MultimodalPreprocessing.MoveImageToFront([ConversationTurn.Human("Q <image>")], useImStartEnd: true);
        Assert.Equal("<im_start><image><im_end>\nQ", wrapped[0].Value);
        var tagged = MultimodalPreprocessing.MoveImageToFront([ConversationTurn.Human("Q <image>")], mmTag: true);
        Assert.Equal("<Image><image></Image>\nQ", tagged[0].Value);
        Assert.Equal("Q <im_start><im_patch><im_patch><im_end>",
            MultimodalPreprocessing.ExpandImagePatches([ConversationTurn.Human("Q <image>")], 2, true)[0].Value);
    }
}
