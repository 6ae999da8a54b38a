using System.Text.Json;
using System.Text.Json.Serialization;
using LlavaMed.Data;
using LlavaMed.Data.SelfInstruct;
using Microsoft.Extensions.AI;
using LlavaTokenizer = LlavaMed.Text.LlavaTokenizer;

namespace LlavaMed.Evaluation.Judge;

/// <summary>How the figure's in-text mentions appear under "Figure Context:".</summary>
public enum FigureContextStyle
{
    /// <summary>One tab-indented bullet per mention sentence (this workbench's default).</summary>
    Bullets,
    /// <summary>The raw <c>in_text_mention</c> value as Python printed it after one bullet, as the paper's script
    /// sent it (see <see cref="PythonRepr"/>).</summary>
    PythonRepr,
}

/// <summary>The GPT-judge request of LLaVA-Med's chat evaluation (<c>eval_multimodal_chat_gpt_score.py</c>): a
/// system message, then one user message with <c>[Context]</c> (figure caption and figure context), <c>[Question]</c>,
/// the reference answer as <c>[Assistant 1]</c> and the model's as <c>[Assistant 2]</c>, and <c>[System]</c> with the
/// instruction to put the two scores on the first line. The layout is fixed here; the wording is data
/// (<c>data/prompts/judge-chat.json</c>, or the user's file with the paper's text for exact comparability).</summary>
public sealed record JudgePrompt(
    [property: JsonPropertyName("system")] string System,
    [property: JsonPropertyName("instruction")] string Instruction,
    [property: JsonPropertyName("role")] string Role = "Assistant",
    [property: JsonPropertyName("figure_context")] FigureContextStyle FigureContext = FigureContextStyle.Bullets,
    [property: JsonPropertyName("keep_image_marker")] bool KeepImageMarker = false,
    [property: JsonPropertyName("retry_instruction")] string? RetryInstruction = null)
{
    const string DefaultRetryInstruction =
        "Your reply did not start with the two scores. Reply again: on the first line only the two scores, for {role} 1 and {role} 2, separated by a space; your explanation from the second line on.";

    static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    /// <summary>Loads <paramref name="path"/> (JSON: system, instruction, optional role, figure_context
    /// "bullets" | "python-repr", keep_image_marker, retry_instruction), or the default wording.</summary>
    public static JudgePrompt Load(string? path = null)
    {
        var source = PromptResources.Source(PromptResources.JudgeChat, path);
        try
        {
            var prompt = JsonSerializer.Deserialize<JudgePrompt>(PromptResources.Read(PromptResources.JudgeChat, path), Json);
            if (prompt?.System is null || prompt.Instruction is null)
                throw new DataFormatException(source, "top level", "expected 'system' and 'instruction' strings");
            return prompt;
        }
        catch (JsonException e)
        {
            throw new DataFormatException(source, $"line {e.LineNumber + 1}", $"invalid judge prompt JSON ({e.Message})");
        }
    }

    public string FormatReview(ChatQuestion question, string modelAnswer)
    {
        var context = FigureContext == FigureContextStyle.PythonRepr
            ? PythonRepr.Format(question.InTextMention)
            : string.Join("\n\t- ", question.Mentions);
        var text = KeepImageMarker ? question.Text : question.Text.Replace(LlavaTokenizer.ImagePlaceholder, "").Trim();
        return "[Context]\n"
               + $"Figure Caption:\n{question.FigLabel}: {question.FigCaption}\n\n"
               + $"Figure Context:\n\t- {context}\n\n"
               + $"[Question]\n{text}\n\n"
               + $"[{Role} 1]\n{question.Gpt4Answer}\n\n[End of {Role} 1]\n\n"
               + $"[{Role} 2]\n{modelAnswer}\n\n[End of {Role} 2]\n\n"
               + $"[System]\n{Instruction}\n\n";
    }

    public IReadOnlyList<ChatMessage> BuildMessages(ChatQuestion question, string modelAnswer) =>
    [
        new(ChatRole.System, System),
        new(ChatRole.User, FormatReview(question, modelAnswer)),
    ];

    /// <summary>The follow-up sent once when a reply's scores cannot be read: the first exchange, then a request
    /// to restate them. It is a different request, so it gets its own cache entry.</summary>
    public IReadOnlyList<ChatMessage> BuildRetryMessages(ChatQuestion question, string modelAnswer, string malformedReply) =>
    [
        .. BuildMessages(question, modelAnswer),
        new(ChatRole.Assistant, malformedReply),
        new(ChatRole.User, (RetryInstruction ?? DefaultRetryInstruction).Replace("{role}", Role)),
    ];
}
