using System.Collections.Immutable;

namespace LlavaMed.Text;

/// <summary>LLaVA's label masking (<c>llava/train/train.py</c>), arithmetic quirks included: lengths of pieces
/// tokenized on their own (each with its own BOS) stand in for their lengths inside the whole conversation.</summary>
internal static class TrainingLabels
{
    private const long Ignore = TrainingExample.IgnoreIndex;

    /// <summary><c>preprocess_plain</c>: the human turn is reduced to <c>&lt;image&gt;</c>; the prompt is
    /// <c>&lt;image&gt;</c> + caption + sep; BOS and the image are masked, caption and separator supervised.</summary>
    public static TrainingExample Plain(ConversationTemplate template, IReadOnlyList<ConversationTurn> turns,
        LlavaTokenizer tokenizer, int maxLength)
    {
        if (turns.Count != 2) throw new ArgumentException("the plain template takes exactly one human and one gpt turn");
        if (!turns[0].Value.Contains(LlavaTokenizer.ImagePlaceholder, StringComparison.Ordinal))
            throw new ArgumentException("the plain template's human turn must contain <image>");
        var prompt = LlavaTokenizer.ImagePlaceholder + turns[1].Value + template.Separator;
        var ids = tokenizer.EncodeWithImages(prompt);
        var labels = (long[])ids.Clone();
        var maskedLength = Math.Min(tokenizer.EncodeWithImages(LlavaTokenizer.ImagePlaceholder).Length, labels.Length);
        Array.Fill(labels, Ignore, 0, maskedLength);
        return Finish(prompt, ids, labels, null, maxLength);
    }

    /// <summary><c>preprocess_llama_2</c> / <c>preprocess_v1</c>: split the prompt into rounds at <c>sep2</c>; in
    /// each round mask the instruction up to <paramref name="answerSeparator"/>. The "-2" drops the round's own BOS
    /// and the trailing-space piece that merges into the answer's first piece; a round's BOS stands in for the
    /// <c>sep2</c> token that ended the previous round.</summary>
    public static TrainingExample ByRounds(ConversationTemplate template, IReadOnlyList<ConversationTurn> turns,
        LlavaTokenizer tokenizer, int maxLength, bool hasImage, string answerSeparator, bool adjustForNonLegacy)
    {
        var prompt = template.RenderTrainingTurns(turns);
        var (ids, truncated) = TokenizeConversation(prompt, tokenizer, maxLength, hasImage);
        int Length(string text) => hasImage ? tokenizer.EncodeWithImages(text).Length : tokenizer.Encode(text).Count;

        var labels = (long[])ids.Clone();
        // LLaVA pads with unk for these versions, so unk ids in the text do not count as tokens.
        var tokenCount = ids.Count(id => id != tokenizer.UnkId);

        var position = 1;   // BOS
        Mask(labels, 0, position);
        var rounds = prompt.Split(template.Separator2 ?? throw new InvalidOperationException("sep2 is required"));
        for (var i = 0; i < rounds.Length; i++)
        {
            var round = rounds[i];
            if (round.Length == 0) break;
            var parts = round.Split(answerSeparator);
            if (parts.Length != 2) break;
            var roundLength = Length(round);
            var instructionLength = Length(parts[0] + answerSeparator) - 2;
            // Upstream LLaVA's preprocess_v1 (tokenizers >= 0.14): a legacy=False tokenizer gives later rounds no
            // dummy-prefix piece inside the conversation, while the round tokenized alone has one.
            if (adjustForNonLegacy && i != 0 && !tokenizer.Options.Legacy)
            {
                roundLength--;
                instructionLength--;
            }
            Mask(labels, position, position + instructionLength);
            position += roundLength;
        }
        Mask(labels, position, labels.Length);

        TokenizationMismatch? mismatch = null;
        if (position < maxLength && position != tokenCount)
        {
            mismatch = new TokenizationMismatch(position, tokenCount);
            Array.Fill(labels, Ignore);
        }
        return Finish(prompt, ids, labels, mismatch, maxLength, truncated);
    }

    /// <summary>The <c>preprocess</c> fallback (v0, LLaVA-Med v1.0): <c>system\n\n</c>, then every turn as
    /// <c>### Role: value\n</c>, then a closing <c>### </c>. <c>_mask_targets</c> masks the header and, in human
    /// turns, everything from the third token of the turn's own tokenization (its BOS included) on.</summary>
    public static TrainingExample SpeakerSignals(ConversationTemplate template, IReadOnlyList<ConversationTurn> turns,
        LlavaTokenizer tokenizer, int maxLength, bool hasImage)
    {
        const string beginSignal = "### ";
        const string endSignal = "\n";
        var header = template.System + "\n\n";
        var signalled = turns.Select(turn =>
        {
            var role = turn.From.ToLowerInvariant() switch
            {
                ConversationTurn.HumanSpeaker => template.UserRole,
                ConversationTurn.GptSpeaker => template.AssistantRole,
                _ => "unknown",
            };
            return beginSignal + role + ": " + turn.Value + endSignal;
        }).ToList();
        var prompt = header + string.Concat(signalled) + beginSignal;

        int Length(string text)
        {
            if (hasImage) return tokenizer.EncodeWithImages(text).Length;
            // _tokenize_fn truncates and counts non-padding ids.
            var encoded = tokenizer.Encode(text).Take(maxLength);
            return encoded.Count(id => tokenizer.PadId is not { } pad || id != pad);
        }
        var (ids, truncated) = TokenizeConversation(prompt, tokenizer, maxLength, hasImage);

        var labels = (long[])ids.Clone();
        var position = Length(header);
        Mask(labels, 0, position);
        for (var i = 0; i < turns.Count; i++)
        {
            var turnLength = Length(signalled[i]);
            // The reference keeps the first two tokens of a human turn ("###"-ish) supervised.
            if (turns[i].From == ConversationTurn.HumanSpeaker) Mask(labels, position + 2, position + turnLength);
            position += turnLength;
        }
        return Finish(prompt, ids, labels, null, maxLength, truncated);
    }

    // With an image LLaVA uses tokenizer_image_token (no truncation there); without one the tokenizer call
    // truncates to model_max_length.
    private static (long[] Ids, bool Truncated) TokenizeConversation(string prompt, LlavaTokenizer tokenizer, int maxLength, bool hasImage)
    {
        if (hasImage) return (tokenizer.EncodeWithImages(prompt), false);
        var ids = tokenizer.Encode(prompt).Select(i => (long)i).ToArray();
        return ids.Length > maxLength ? (ids[..maxLength], true) : (ids, false);
    }

    // Python slice assignment target[start:end] = IGNORE: clamped to the array, empty when start >= end.
    private static void Mask(long[] labels, int start, int end)
    {
        start = Math.Clamp(start, 0, labels.Length);
        end = Math.Clamp(end, 0, labels.Length);
        if (end > start) Array.Fill(labels, Ignore, start, end - start);
    }

    // The collator's final cut to model_max_length applies to every example.
    private static TrainingExample Finish(string prompt, long[] ids, long[] labels, TokenizationMismatch? mismatch,
        int maxLength, bool truncatedBefore = false)
    {
        var truncated = truncatedBefore || ids.Length > maxLength;
        var kept = Math.Min(ids.Length, maxLength);
        return new TrainingExample(prompt, ImmutableArray.Create(ids, 0, kept), ImmutableArray.Create(labels, 0, kept),
            mismatch, truncated);
    }
}
