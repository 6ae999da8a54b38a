using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Data;

namespace LlavaMed.Evaluation;

/// <summary>One line of LLaVA's answer files (model_vqa*.py output): <c>question_id</c>, <c>prompt</c>,
/// <c>text</c> (the model's answer), <c>answer_id</c>, <c>model_id</c>, <c>metadata</c>.</summary>
public sealed record AnswerRecord(string QuestionId, string Prompt, string Text, string AnswerId, string ModelId,
                                  JsonObject? Metadata = null)
{
    /// <summary>The line of the answer file this record was read from (0 when not read from a file).</summary>
    public int Line { get; init; }

    public JsonObject ToJson() => new()
    {
        ["question_id"] = QuestionId,
        ["prompt"] = Prompt,
        ["text"] = Text,
        ["answer_id"] = AnswerId,
        ["model_id"] = ModelId,
        ["metadata"] = Metadata?.DeepClone() ?? new JsonObject(),
    };

    /// <summary>Reads a JSONL answer file strictly: a malformed line is an error with its line number; blank
    /// lines are skipped; an empty file is an error.</summary>
    public static IReadOnlyList<AnswerRecord> ReadJsonl(string path) =>
        JsonFields.ReadStrictLines(path, "answers")
            .Select(r => FromJson(r.Node, path, $"line {r.Line}") with { Line = r.Line })
            .ToList();

    static AnswerRecord FromJson(JsonNode? node, string path, string location)
    {
        if (node is not JsonObject json) throw new DataFormatException(path, location, "record is not a JSON object");
        string Field(string key, bool required = true) => JsonFields.Text(json, key, path, location, required);
        return new AnswerRecord(Field("question_id"), Field("prompt", required: false), Field("text"),
                                Field("answer_id", required: false), Field("model_id", required: false),
                                json["metadata"] as JsonObject);
    }
}
