namespace LlavaMed.Text;

/// <summary>Where LLaVA puts the image marker in training turns before the conversation template sees them.</summary>
public static class MultimodalPreprocessing
{
    public const string ImageToken = LlavaTokenizer.ImagePlaceholder;
    public const string ImagePatchToken = "<im_patch>";
    public const string ImageStartToken = "<im_start>";
    public const string ImageEndToken = "<im_end>";

    /// <summary>LLaVA v1.5 <c>preprocess_multimodal</c>: in every turn that mentions <c>&lt;image&gt;</c> the marker
    /// is removed and put first, followed by a newline (the result is trimmed, so an image-only turn becomes just
    /// <c>&lt;image&gt;</c>). With <paramref name="useImStartEnd"/> the marker is wrapped in
    /// <c>&lt;im_start&gt;…&lt;im_end&gt;</c>; with <paramref name="mmTag"/> in <c>&lt;Image&gt;…&lt;/Image&gt;</c>
    /// (the <c>*_mmtag</c> templates).</summary>
    public static IReadOnlyList<ConversationTurn> MoveImageToFront(
        IReadOnlyList<ConversationTurn> turns, bool useImStartEnd = false, bool mmTag = false)
    {
        return turns.Select(turn =>
        {
            var value = turn.Value;
            if (value.Contains(ImageToken, StringComparison.Ordinal))
            {
                value = (ImageToken + "\n" + value.Replace(ImageToken, "").Trim()).Trim();
                if (mmTag) value = value.Replace(ImageToken, "<Image>" + ImageToken + "</Image>");
            }
            if (useImStartEnd) value = value.Replace(ImageToken, ImageStartToken + ImageToken + ImageEndToken);
            return turn with { Value = value };
        }).ToList();
    }

    /// <summary>LLaVA-Med v1.0 <c>preprocess_multimodal</c>: <c>&lt;image&gt;</c> stays where it is and becomes
    /// <paramref name="patchCount"/> <c>&lt;im_patch&gt;</c> tokens, wrapped in start/end tokens when asked.</summary>
    public static IReadOnlyList<ConversationTurn> ExpandImagePatches(
        IReadOnlyList<ConversationTurn> turns, int patchCount, bool useImStartEnd)
    {
        var replacement = ImagePatchTokens(patchCount, useImStartEnd);
        return turns.Select(t => t with { Value = t.Value.Replace(ImageToken, replacement) }).ToList();
    }

    /// <summary>The v1.0 image text: <c>&lt;im_start&gt;</c> + N × <c>&lt;im_patch&gt;</c> + <c>&lt;im_end&gt;</c>
    /// (or the patches alone).</summary>
    public static string ImagePatchTokens(int patchCount, bool useImStartEnd)
    {
        var patches = string.Concat(Enumerable.Repeat(ImagePatchToken, patchCount));
        return useImStartEnd ? ImageStartToken + patches + ImageEndToken : patches;
    }

    /// <summary>LLaVA-Med v1.0 <c>model_vqa_med.py</c>: the question without its marker, a newline, then the image
    /// tokens.</summary>
    public static string V10Question(string question, int patchCount, bool useImStartEnd) =>
        question.Replace(ImageToken, "").Trim() + "\n" + ImagePatchTokens(patchCount, useImStartEnd);

    /// <summary>LLaVA v1.5 <c>model_vqa.py</c> / CLI: the image marker first, then the question.</summary>
    public static string V15Question(string question, bool useImStartEnd = false) =>
        (useImStartEnd ? ImageStartToken + ImageToken + ImageEndToken : ImageToken) + "\n"
        + question.Replace(ImageToken, "").Trim();
}
