using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Data;

namespace LlavaMed.Evaluation.Judge;

/// <summary>One question of LLaVA-Med's chat evaluation set (<c>llava_med_eval_qa50_qa.jsonl</c>): <c>question_id</c>,
/// <c>image</c>, <c>text</c> (the question, with its <c>&lt;image&gt;</c> marker), <c>gpt4_answer</c> (the reference),
/// <c>fig_label</c>, <c>fig_caption</c>, <c>in_text_mention</c> (kept as the raw JSON: the paper's judge prompt
/// printed it verbatim), <c>domain</c> flags and <c>type</c> (conversation or detailed_description).</summary>
public sealed record ChatQuestion(string QuestionId, string Image, string Text, string Gpt4Answer, string FigLabel,
                                  string FigCaption, JsonNode? InTextMention, JsonObject? Domain, string Type)
{
    /// <summary>The mention sentences: strings, or the <c>tokens</c> of <c>{"tokens": ...}</c> objects.</summary>
    public IReadOnlyList<string> Mentions => InTextMention switch
    {
        null => [],
        JsonArray array => array.Select(MentionText).Where(m => m is not null).Select(m => m!).ToList(),
        var single => MentionText(single) is { } text ? [text] : [],
    };

    static string? MentionText(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonObject o when o["tokens"]?.GetValueKind() == JsonValueKind.String => o["tokens"]!.GetValue<string>(),
        _ => null,
    };

    /// <summary>The first true domain flag in the order chest_xray, mri, histology, gross, ct_scan (as
    /// summarize_gpt_review.py's get_domain); null when none is set.</summary>
    public string? PrimaryDomain => Data.SelfInstruct.FigureCaptionRecord.FirstDomain(Domain);

    public static IReadOnlyList<ChatQuestion> ReadJsonl(string path)
    {
        var questions = JsonFields.ReadStrictLines(path, "questions").Select(r => FromJson(r.Node, path, $"line {r.Line}")).ToList();
        var duplicate = questions.GroupBy(q => q.QuestionId).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new DataFormatException(path, "question_id", $"question_id {duplicate.Key} appears {duplicate.Count()} times");
        return questions;
    }

    public static ChatQuestion FromJson(JsonNode? node, string path, string location)
    {
        if (node is not JsonObject json) throw new DataFormatException(path, location, "record is not a JSON object");
        string Field(string key, bool required = true) => JsonFields.Text(json, key, path, location, required);
        if (json["domain"] is { } domain && domain is not JsonObject)
            throw new DataFormatException(path, location, "'domain' is not an object of flags");
        return new ChatQuestion(Field("question_id"), Field("image", required: false), Field("text"),
                                Field("gpt4_answer"), Field("fig_label", required: false), Field("fig_caption", required: false),
                                json["in_text_mention"]?.DeepClone(), json["domain"]?.DeepClone() as JsonObject,
                                Field("type", required: false));
    }
}
