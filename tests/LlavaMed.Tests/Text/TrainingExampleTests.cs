using LlavaMed.Text;

namespace LlavaMed.Tests.Text;

/// <summary>Training examples with LLaVA's label arithmetic, checked as whole arrays against the fixture tokenizer.
/// The expected arrays were worked out from the pieces (see the comments) and cross-checked against an
/// independent script of the reference functions.</summary>
public class TrainingExampleTests
{
    private const long I = TrainingExample.IgnoreIndex;

    private static LlavaTokenizer Tokenizer() => LlavaTokenizer.FromFolder(SharedFixtures.Tokenizer);

    private static IReadOnlyList<ConversationTurn> TwoTurnsWithImage() => MultimodalPreprocessing.MoveImageToFront(
    [
        ConversationTurn.Human("What modality is this?\n<image>"),
        ConversationTurn.Gpt("CT scan."),
        ConversationTurn.Human("Any lesion?"),
        ConversationTurn.Gpt("No."),
    ]);

    [Fact]
    public void MistralInstructTwoTurns()
    {
        var example = ConversationTemplate.MistralInstruct.Build(TwoTurnsWithImage(), Tokenizer(), 2048);
        Assert.Equal("[INST] <image>\nWhat modality is this? [/INST] CT scan. </s>[INST] Any lesion? [/INST] No. </s>",
            example.Prompt);
        Assert.Equal(MistralIds, example.InputIds.ToArray());
        // Round 1: "▁C" (314) merges the space after "[/INST]", so the "-2" is exact and the answer starts at
        // "▁C". Round 2: "▁N" is not a piece, so the answer's "▁" (447) stays supervised — LLaVA's off-by-one.
        // Each answer's " </s>" ("▁", 2) is supervised.
        Assert.Equal(MistralLabels, example.Labels.ToArray());
        Assert.Null(example.Mismatch);
        Assert.False(example.Truncated);
    }

    [Fact]
    public void MistralInstructTextOnly()
    {
        var example = ConversationTemplate.MistralInstruct.Build(
            [ConversationTurn.Human("Hi"), ConversationTurn.Gpt("Hello.")], Tokenizer(), 2048);
        Assert.Equal("[INST] Hi [/INST] Hello. </s>", example.Prompt);
        Assert.Equal(MistralTextIds, example.InputIds.ToArray());
        Assert.Equal(MistralTextLabels, example.Labels.ToArray());
    }

    [Fact]
    public void VicunaV1TwoTurns()
    {
        var example = ConversationTemplate.VicunaV1.Build(TwoTurnsWithImage(), Tokenizer(), 2048);
        Assert.Equal("A chat between a curious user and an artificial intelligence assistant. The assistant gives "
                     + "helpful, detailed, and polite answers to the user's questions. USER: <image>\nWhat modality is "
                     + "this? ASSISTANT: CT scan.</s> USER: Any lesion? ASSISTANT: No.</s>", example.Prompt);
        Assert.Equal(VicunaIds, example.InputIds.ToArray());
        // Supervised: "▁C T ▁s c an . </s>" and "▁ N o . </s>" (the unmerged "▁" again).
        Assert.Equal(VicunaLabels, example.Labels.ToArray());
        Assert.Equal([314, 476, 266, 458, 309, 468, 2, 447, 81, 452, 468, 2],
            example.Labels.Where(l => l != I).ToArray());
        Assert.Null(example.Mismatch);
    }

    [Fact]
    public void VicunaV1WithNonLegacyTokenizerUsesUpstreamsMinusOne()
    {
        var modern = LlavaTokenizer.FromFolder(SharedFixtures.Tokenizer, new LlavaTokenizerOptions(Legacy: false));
        var example = ConversationTemplate.VicunaV1.Build(TwoTurnsWithImage(), modern, 2048);
        Assert.Null(example.Mismatch);
        Assert.Equal([314, 476, 266, 458, 309, 468, 2, 447, 81, 452, 468, 2],
            example.Labels.Where(l => l != I).ToArray());
    }

    [Fact]
    public void PlainMasksBosAndImageOnly()
    {
        var turns = MultimodalPreprocessing.MoveImageToFront(
            [ConversationTurn.Human("Describe the image.\n<image>"), ConversationTurn.Gpt("Chest X-ray.")]);
        var example = ConversationTemplate.Plain.Build(turns, Tokenizer(), 2048);
        // The human text is dropped: "<image>" + caption + "\n".
        Assert.Equal("<image>Chest X-ray.\n", example.Prompt);
        Assert.Equal(PlainIds, example.InputIds.ToArray());
        Assert.Equal(PlainLabels, example.Labels.ToArray());
    }

    [Fact]
    public void LlavaV0SpeakerSignalsAndMaskTargets()
    {
        var turns = MultimodalPreprocessing.MoveImageToFront(
            [ConversationTurn.Human("What is it? <image>"), ConversationTurn.Gpt("A CT.")]);
        var example = ConversationTemplate.LlavaV0.Build(turns, Tokenizer(), 2048);
        Assert.Equal("A chat between a curious human and an artificial intelligence assistant. The assistant gives "
                     + "helpful, detailed, and polite answers to the human's questions.\n\n### Human: <image>\nWhat is "
                     + "it?\n### Assistant: A CT.\n### ", example.Prompt);
        Assert.Equal(V0Ids, example.InputIds.ToArray());
        // Each turn's own tokenization has BOS + "▁" that the whole conversation lacks ("\n###" there), so
        // _mask_targets runs two tokens long per turn: the human turn's first two "#" stay supervised (the "+2"), its
        // mask runs into the gpt turn's first two "#", and the gpt turn from its third "#" on, plus the closing
        // "### ", is supervised.
        Assert.Equal(V0Labels, example.Labels.ToArray());
    }

    [Fact]
    public void UnknownTokensCountAsPaddingAndCauseTheMismatch()
    {
        // LLaVA pads with <unk> for v1/LLaMA-2 versions, so an <unk> in the text shortens total_len by one.
        var example = ConversationTemplate.MistralInstruct.Build(
            [ConversationTurn.Human("Say <unk>"), ConversationTurn.Gpt("Ok.")], Tokenizer(), 2048);
        Assert.Equal(new TokenizationMismatch(29, 28), example.Mismatch);
        Assert.All(example.Labels, l => Assert.Equal(I, l));
        Assert.Equal(29, example.InputIds.Length);
    }

    [Fact]
    public void TruncationSkipsTheMismatchCheck()
    {
        var example = ConversationTemplate.MistralInstruct.Build(
            [ConversationTurn.Human("Hi"), ConversationTurn.Gpt("Hello.")], Tokenizer(), 8);
        Assert.True(example.Truncated);
        Assert.Null(example.Mismatch);
        Assert.Equal(MistralTextIds[..8], example.InputIds.ToArray());
        Assert.All(example.Labels, l => Assert.Equal(I, l));
    }

    [Fact]
    public void LeadingGptTurnIsDroppedAndTurnsMustAlternate()
    {
        var tokenizer = Tokenizer();
        var example = ConversationTemplate.MistralInstruct.Build(
            [ConversationTurn.Gpt("ignored"), ConversationTurn.Human("Hi"), ConversationTurn.Gpt("Hello.")], tokenizer, 2048);
        Assert.Equal(MistralTextIds, example.InputIds.ToArray());
        Assert.Throws<ArgumentException>(() => ConversationTemplate.MistralInstruct.Build(
            [ConversationTurn.Human("a"), ConversationTurn.Human("b")], tokenizer, 2048));
    }

    private static readonly long[] MistralIds =
        [1, 447, 94, 475, 81, 497, 476, 96, 447, -200, 447, 13, 420, 299, 277, 344, 265, 296, 465, 337, 275, 273, 486, 447, 94,
         50, 475, 81, 497, 476, 96, 314, 476, 266, 458, 309, 468, 447, 2, 447, 94, 475, 81, 497, 476, 96, 447, 487, 453, 465,
         416, 486, 447, 94, 50, 475, 81, 497, 476, 96, 447, 81, 452, 468, 447, 2];
    private static readonly long[] MistralLabels =
        [-100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100,
         -100, -100, -100, -100, -100, -100, 314, 476, 266, 458, 309, 468, 447, 2, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100,
         -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, 447, 81, 452, 468, 447, 2];
    private static readonly long[] VicunaIds =
        [1, 447, 487, 271, 457, 299, 447, 328, 450, 466, 448, 261, 259, 271, 321, 449, 452, 313, 447, 313, 264, 287, 274, 259, 454,
         267, 464, 276, 375, 308, 450, 443, 320, 387, 259, 455, 455, 316, 309, 450, 468, 396, 259, 455, 455, 316, 309, 450, 349, 449,
         470, 268, 298, 318, 461, 464, 289, 467, 284, 362, 451, 342, 294, 467, 287, 269, 329, 296, 448, 274, 455, 466, 264, 455, 333,
         452, 282, 447, 313, 264, 42, 455, 447, 364, 268, 267, 324, 468, 447, 506, 497, 488, 491, 494, 447, -200, 447, 13, 420, 299,
         277, 344, 265, 296, 465, 337, 275, 273, 486, 447, 487, 497, 497, 475, 497, 476, 487, 81, 476, 494, 314, 476, 266, 458, 309,
         468, 2, 447, 447, 506, 497, 488, 491, 494, 447, 487, 453, 465, 416, 486, 447, 487, 497, 497, 475, 497, 476, 487, 81, 476,
         494, 447, 81, 452, 468, 2];
    private static readonly long[] VicunaLabels =
        [-100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100,
         -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100,
         -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100,
         -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100,
         -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, 314, 476, 266, 458, 309,
         468, 2, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100,
         -100, 447, 81, 452, 468, 2];
    private static readonly long[] PlainIds =
        [1, -200, 314, 457, 374, 447, 508, 472, 272, 465, 468, 13];
    private static readonly long[] PlainLabels =
        [-100, -100, 314, 457, 374, 447, 508, 472, 272, 465, 468, 13];
    private static readonly long[] V0Ids =
        [1, 447, 487, 271, 457, 299, 447, 328, 450, 466, 448, 261, 259, 271, 321, 449, 452, 313, 298, 346, 309, 287, 274, 259, 454,
         267, 464, 276, 375, 308, 450, 443, 320, 387, 259, 455, 455, 316, 309, 450, 468, 396, 259, 455, 455, 316, 309, 450, 349, 449,
         470, 268, 298, 318, 461, 464, 289, 467, 284, 362, 451, 342, 294, 467, 287, 269, 329, 296, 448, 274, 455, 466, 264, 455, 333,
         452, 282, 298, 346, 309, 42, 455, 447, 364, 268, 267, 324, 468, 13, 13, 38, 38, 38, 447, 489, 346, 309, 494, 447, -200,
         447, 13, 420, 299, 337, 447, 296, 486, 13, 38, 38, 38, 447, 487, 455, 455, 316, 309, 450, 494, 447, 487, 314, 476, 468,
         13, 38, 38, 38, 447];
    private static readonly long[] V0Labels =
        [-100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100,
         -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100,
         -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100,
         -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, 38, 38, -100, -100, -100, -100, -100, -100, -100, -100,
         -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, 38, 447, 487, 455, 455, 316, 309, 450, 494, 447, 487, 314, 476, 468,
         13, 38, 38, 38, 447];
    private static readonly long[] MistralTextIds =
        [1, 447, 94, 475, 81, 497, 476, 96, 447, 489, 449, 447, 94, 50, 475, 81, 497, 476, 96, 447, 489, 443, 452, 468, 447, 2];
    private static readonly long[] MistralTextLabels =
        [-100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, 447, 489, 443, 452, 468, 447, 2];
}
