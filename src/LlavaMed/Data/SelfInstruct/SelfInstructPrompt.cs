using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace LlavaMed.Data.SelfInstruct;

/// <summary>A worked example shown to the model before the real figure: its caption record and the conversation
/// the model should write for it.</summary>
public sealed record FewShotExample(FigureCaptionRecord Figure, IReadOnlyList<ConversationPair> Conversation);

/// <summary>The request of LLaVA-Med's self-instruct step (<c>instruct_generate.py</c>): a system message with the
/// task and its rules, every few-shot example as a user message (its figure) and an assistant message (its
/// conversation as <c>User: ...</c> / <c>Assistant: ...</c> blocks), then the figure to converse about. Few-shot
/// figures are shown with or without mentions exactly as the query figure is. The wording is data (see
/// <see cref="Load"/>); this type fixes the structure.</summary>
public sealed record SelfInstructPrompt(string SystemPrompt, IReadOnlyList<FewShotExample> FewShot)
{
    public const string CaptionHeader = "Figure Caption:";
    public const string ContextHeader = "Figure Context:";
    public const string UserPrefix = "User:";
    public const string AssistantPrefix = "Assistant:";

    /// <summary>Loads the system prompt (plain text, used verbatim) and the few-shot file (a JSON array of
    /// caption records each with a <c>conversations</c> list of human/gpt turns: the layout of LLaVA-Med's
    /// <c>instruct_few_shot_examples.fs</c>, so the paper's examples can be dumped to JSON and loaded as they are).
    /// Null paths select this workbench's own defaults.</summary>
    public static SelfInstructPrompt Load(string? systemPromptPath = null, string? fewShotPath = null)
    {
        var system = PromptResources.Read(PromptResources.SelfInstructSystem, systemPromptPath);
        var fewShotSource = fewShotPath ?? PromptResources.Source(PromptResources.SelfInstructFewShot, null);
        return new SelfInstructPrompt(system, ParseFewShot(PromptResources.Read(PromptResources.SelfInstructFewShot, fewShotPath), fewShotSource));
    }

    public static IReadOnlyList<FewShotExample> ParseFewShot(string json, string source)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new DataFormatException(source, $"line {e.LineNumber + 1}", $"invalid JSON ({e.Message})");
        }
        if (root is not JsonArray array) throw new DataFormatException(source, "top level", "expected a JSON array of examples");
        return array.Select((node, i) =>
        {
            var figure = FigureCaptionRecord.FromJson(node, source, $"[{i}]");
            var sample = LlavaSample.FromJson(new JsonObject
            {
                ["id"] = figure.PairId,
                ["conversations"] = node!["conversations"]?.DeepClone(),
            }, source, $"[{i}]");
            var turns = sample.Conversations;
            if (turns.Count % 2 != 0 || turns.Where((t, k) => t.From != (k % 2 == 0 ? "human" : "gpt")).Any())
                throw new DataFormatException(source, $"[{i}]", "conversations must alternate human, gpt");
            var pairs = Enumerable.Range(0, turns.Count / 2)
                .Select(k => new ConversationPair(turns[2 * k].Value, turns[2 * k + 1].Value)).ToList();
            return new FewShotExample(figure with { Extra = null }, pairs);
        }).ToList();
    }

    /// <summary>The user message describing a figure: <c>Figure Caption:\n{label}: {caption}</c> and, with mentions
    /// on and present, <c>\n\nFigure Context:\n\t- {mention}</c> with one tab-indented bullet per mention.</summary>
    public static string FormatFigure(FigureCaptionRecord figure, bool inlineMentions)
    {
        var text = $"{CaptionHeader}\n{figure.FigLabel}: {figure.FigCaption}";
        if (inlineMentions && figure.InTextMentions.Count > 0)
            text += $"\n\n{ContextHeader}\n\t- " + string.Join("\n\t- ", figure.InTextMentions);
        return text;
    }

    /// <summary>The inverse of <see cref="FormatFigure"/> (label, caption, mentions), for the offline provider that
    /// sees only the request. Null when the text is not a figure message.</summary>
    public static FigureCaptionRecord? ParseFigure(string text)
    {
        if (!text.StartsWith(CaptionHeader + "\n", StringComparison.Ordinal)) return null;
        var body = text[(CaptionHeader.Length + 1)..];
        var contextAt = body.IndexOf($"\n\n{ContextHeader}\n", StringComparison.Ordinal);
        var captionLine = contextAt >= 0 ? body[..contextAt] : body;
        var mentions = contextAt >= 0
            ? body[(contextAt + ContextHeader.Length + 3)..].Split("\n").Select(line => line.StartsWith("\t- ") ? line[3..] : line.Trim()).ToList()
            : [];
        var colon = captionLine.IndexOf(": ", StringComparison.Ordinal);
        return colon >= 0
            ? new FigureCaptionRecord("", captionLine[..colon], captionLine[(colon + 2)..], mentions)
            : new FigureCaptionRecord("", "", captionLine, mentions);
    }

    /// <summary>A conversation as the model is asked to write it: <c>User: q</c> and <c>Assistant: a</c> blocks
    /// separated by blank lines.</summary>
    public static string FormatConversation(IEnumerable<ConversationPair> pairs) =>
        string.Join("\n\n", pairs.SelectMany(p => new[] { $"{UserPrefix} {p.Question}", $"{AssistantPrefix} {p.Answer}" }));

    public IReadOnlyList<ChatMessage> BuildMessages(FigureCaptionRecord figure, bool inlineMentions)
    {
        var messages = new List<ChatMessage> { new(ChatRole.System, SystemPrompt) };
        foreach (var example in FewShot)
        {
            messages.Add(new ChatMessage(ChatRole.User, FormatFigure(example.Figure, inlineMentions)));
            messages.Add(new ChatMessage(ChatRole.Assistant, FormatConversation(example.Conversation)));
        }
        messages.Add(new ChatMessage(ChatRole.User, FormatFigure(figure, inlineMentions)));
        return messages;
    }
}
