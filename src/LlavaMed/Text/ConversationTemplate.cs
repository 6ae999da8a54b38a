using System.Collections.Immutable;
using System.Text;

namespace LlavaMed.Text;

/// <summary>
/// A LLaVA conversation template (<c>llava/conversation.py</c>) as data: renders prompts like
/// <c>Conversation.get_prompt()</c> and builds supervised examples like <c>llava/train/train.py</c>'s
/// <c>preprocess_*</c> functions.
/// </summary>
/// <param name="Name">The key in LLaVA's <c>conv_templates</c>.</param>
/// <param name="FewShot">Messages every rendered prompt starts with (the template's own <c>messages</c>); training
/// examples do not include them (LLaVA resets <c>conv.messages</c>).</param>
/// <param name="Separator2">Null where LLaVA has <c>sep2=None</c>.</param>
/// <param name="Version">LLaVA's <c>version</c> field; <c>v1*</c> selects <c>preprocess_v1</c>.</param>
/// <param name="TrimsTwoStyleTurns">LLaVA-Med v1.5's variant of the TWO style: every message is stripped,
/// <c>sep2</c> is followed by a space, and the whole prompt is stripped.</param>
public sealed record ConversationTemplate(
    string Name,
    string System,
    string UserRole,
    string AssistantRole,
    ImmutableArray<ChatMessage> FewShot,
    SeparatorStyle Style,
    string Separator,
    string? Separator2,
    string Version,
    bool TrimsTwoStyleTurns = false)
{
    private const string V0System =
        "A chat between a curious human and an artificial intelligence assistant. "
        + "The assistant gives helpful, detailed, and polite answers to the human's questions.";

    /// <summary>LLaVA-Med v1.5 (Mistral) and LLaVA's <c>conv_mistral_instruct</c>:
    /// <c>[INST] &lt;image&gt;\nQ [/INST]</c>.</summary>
    public static ConversationTemplate MistralInstruct { get; } = new(
        "mistral_instruct", "", "USER", "ASSISTANT", [], SeparatorStyle.Llama2, "", "</s>", "llama_v2");

    /// <summary><c>conv_vicuna_v1</c> in LLaVA-Med v1.5's <c>conversation.py</c> (the default <c>--conv-mode</c> of
    /// its <c>model_vqa.py</c>), including that file's stripping TWO style.</summary>
    public static ConversationTemplate VicunaV1 { get; } = new(
        "vicuna_v1",
        "A chat between a curious user and an artificial intelligence assistant. "
        + "The assistant gives helpful, detailed, and polite answers to the user's questions.",
        "USER", "ASSISTANT", [], SeparatorStyle.Two, " ", "</s>", "v1", TrimsTwoStyleTurns: true);

    /// <summary><c>conv_llava_v1</c>: as <see cref="VicunaV1"/> with the "curious human" system prompt.</summary>
    public static ConversationTemplate LlavaV1 { get; } = VicunaV1 with { Name = "llava_v1", System = V0System };

    /// <summary><c>conv_llava_v0</c>: the "###" format with Human/Assistant roles.</summary>
    public static ConversationTemplate LlavaV0 { get; } = new(
        "llava_v0", V0System, "Human", "Assistant", [], SeparatorStyle.Single, "###", null, "Unknown");

    /// <summary>LLaVA-Med v1.0's <c>conv_templates['simple']</c> (default of <c>model_vqa_med.py</c>): the v0 format
    /// with a "Hi!" exchange as few-shot messages.</summary>
    public static ConversationTemplate Simple { get; } = LlavaV0 with
    {
        Name = "simple",
        FewShot = [ChatMessage.User("Hi!"), ChatMessage.Assistant("Hi there!  How can I help you today?\n")],
    };

    /// <summary><c>conv_llava_plain</c> (stage-1 pretraining): image, caption, newline.</summary>
    public static ConversationTemplate Plain { get; } = new(
        "plain", "", "", "", [], SeparatorStyle.Plain, "\n", null, "Unknown");

    public static IReadOnlyList<ConversationTemplate> All { get; } =
        [MistralInstruct, VicunaV1, LlavaV1, LlavaV0, Simple, Plain];

    /// <summary>The template with LLaVA's <c>conv_templates</c> key <paramref name="name"/>
    /// (<c>v1</c> and <c>v0_plain</c> are accepted as LLaVA's aliases).</summary>
    public static ConversationTemplate ByName(string name) => TryGetByName(name, out var template)
        ? template
        : throw new KeyNotFoundException($"unknown conversation template '{name}' (known: {string.Join(", ", All.Select(t => t.Name))})");

    public static bool TryGetByName(string name, out ConversationTemplate template)
    {
        var key = name switch { "v1" => "vicuna_v1", "v0_plain" => "plain", _ => name };
        template = All.FirstOrDefault(t => t.Name == key)!;
        return template is not null;
    }

    /// <summary>Text after which generation should stop (LLaVA's <c>stop_str</c>: <c>sep2</c> for the TWO style,
    /// else <c>sep</c>; for LLAMA_2, whose <c>sep</c> is empty, <c>sep2</c>).</summary>
    public IReadOnlyList<string> StopStrings => Style switch
    {
        SeparatorStyle.Two or SeparatorStyle.Llama2 when Separator2 is not null => [Separator2],
        _ when Separator.Length > 0 => [Separator],
        _ => [],
    };

    /// <summary><c>get_prompt()</c> for the few-shot messages followed by <paramref name="messages"/>; with
    /// <paramref name="addGenerationPrompt"/> an open assistant turn is appended (LLaVA's
    /// <c>append_message(roles[1], None)</c>).</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        var all = FewShot.Concat(messages).ToList();
        if (addGenerationPrompt) all.Add(ChatMessage.Assistant(null));
        return RenderMessages(all);
    }

    private string RoleName(ChatRole role) => role == ChatRole.User ? UserRole : AssistantRole;

    private string RenderMessages(IReadOnlyList<ChatMessage> messages)
    {
        var prompt = new StringBuilder();
        switch (Style)
        {
            case SeparatorStyle.Single:
                prompt.Append(System).Append(Separator);
                foreach (var message in messages)
                {
                    if (string.IsNullOrEmpty(message.Content)) prompt.Append(RoleName(message.Role)).Append(':');
                    else prompt.Append(RoleName(message.Role)).Append(": ").Append(message.Content).Append(Separator);
                }
                return prompt.ToString();

            case SeparatorStyle.Two:
                prompt.Append(System).Append(Separator);
                for (var i = 0; i < messages.Count; i++)
                {
                    var message = messages[i];
                    if (string.IsNullOrEmpty(message.Content)) { prompt.Append(RoleName(message.Role)).Append(':'); continue; }
                    // Separators alternate by position: sep after user turns, sep2 after assistant turns
                    // (LLaVA-Med: "sep2 " and the message stripped).
                    var separator = i % 2 == 0 ? Separator : (Separator2 ?? "") + (TrimsTwoStyleTurns ? " " : "");
                    var content = TrimsTwoStyleTurns ? message.Content.Trim() : message.Content;
                    prompt.Append(RoleName(message.Role)).Append(": ").Append(content).Append(separator);
                }
                return TrimsTwoStyleTurns ? prompt.ToString().Trim() : prompt.ToString();

            case SeparatorStyle.Llama2:
                for (var i = 0; i < messages.Count; i++)
                {
                    var message = messages[i];
                    if (i == 0 && (string.IsNullOrEmpty(message.Content) || message.Role != ChatRole.User))
                        throw new ArgumentException("LLAMA_2 prompts must start with a non-empty user message");
                    if (string.IsNullOrEmpty(message.Content)) continue;
                    var content = message.Content;
                    // The system prompt rides inside the first instruction, and only when there is one.
                    if (i == 0 && System.Length > 0) content = $"<<SYS>>\n{System}\n<</SYS>>\n\n" + content;
                    if (i % 2 == 0) prompt.Append(Separator).Append("[INST] ").Append(content).Append(" [/INST]");
                    else prompt.Append(' ').Append(content).Append(' ').Append(Separator2);
                }
                // Python's str.lstrip(sep) strips a character set, not a prefix; kept as is. (An empty set strips
                // nothing, whereas .NET's TrimStart() with no characters would strip whitespace.)
                return Separator.Length == 0 ? prompt.ToString() : prompt.ToString().TrimStart(Separator.ToCharArray());

            case SeparatorStyle.Plain:
                prompt.Append(System);
                for (var i = 0; i < messages.Count; i++)
                {
                    if (string.IsNullOrEmpty(messages[i].Content)) continue;
                    // LLaVA's plain template has sep2=None, on which get_prompt would fail for an assistant turn;
                    // a missing sep2 is written as nothing here.
                    prompt.Append(messages[i].Content).Append(i % 2 == 0 ? Separator : Separator2 ?? "");
                }
                return prompt.ToString();

            default:
                throw new InvalidOperationException($"unknown separator style {Style}");
        }
    }

    /// <summary>
    /// A supervised example from LLaVA training turns, with LLaVA's label arithmetic: <c>preprocess_plain</c>
    /// (PLAIN), <c>preprocess_llama_2</c> (LLAMA_2), <c>preprocess_v1</c> (version <c>v1*</c>) or the
    /// <c>preprocess</c> fallback with <c>_mask_targets</c> (everything else, e.g. v0/simple). Apply
    /// <see cref="MultimodalPreprocessing"/> to the turns first, as LLaVA does.
    /// </summary>
    /// <param name="maxLength">The tokenizer's <c>model_max_length</c> (LLaVA's <c>--model_max_length</c>).</param>
    /// <param name="hasImage">Whether the record has an image (LLaVA then tokenizes with
    /// <c>tokenizer_image_token</c>); default: whether any turn contains <c>&lt;image&gt;</c>.</param>
    public TrainingExample Build(IReadOnlyList<ConversationTurn> turns, LlavaTokenizer tokenizer, int maxLength, bool? hasImage = null)
    {
        var withImage = hasImage ?? turns.Any(t => t.Value.Contains(LlavaTokenizer.ImagePlaceholder, StringComparison.Ordinal));
        return Style switch
        {
            SeparatorStyle.Plain => TrainingLabels.Plain(this, turns, tokenizer, maxLength),
            SeparatorStyle.Llama2 => TrainingLabels.ByRounds(this, turns, tokenizer, maxLength, withImage, "[/INST] ", adjustForNonLegacy: false),
            _ when Version.StartsWith("v1", StringComparison.Ordinal) =>
                TrainingLabels.ByRounds(this, turns, tokenizer, maxLength, withImage, Separator + AssistantRole + ": ",
                    adjustForNonLegacy: true),
            _ => TrainingLabels.SpeakerSignals(this, turns, tokenizer, maxLength, withImage),
        };
    }

    /// <summary>The prompt LLaVA's training code renders for <paramref name="turns"/>: no few-shot messages; a
    /// leading assistant turn is dropped; turns must then alternate human/gpt.</summary>
    internal string RenderTrainingTurns(IReadOnlyList<ConversationTurn> turns)
    {
        var source = turns.Count > 0 && turns[0].From != ConversationTurn.HumanSpeaker ? turns.Skip(1).ToList() : turns;
        var messages = new List<ChatMessage>();
        for (var i = 0; i < source.Count; i++)
        {
            var expected = i % 2 == 0 ? ConversationTurn.HumanSpeaker : ConversationTurn.GptSpeaker;
            if (source[i].From != expected)
                throw new ArgumentException($"turn {i} is from '{source[i].From}', expected '{expected}' (turns must alternate)");
            messages.Add(new ChatMessage(i % 2 == 0 ? ChatRole.User : ChatRole.Assistant, source[i].Value));
        }
        return RenderMessages(messages);
    }
}
