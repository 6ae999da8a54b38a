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
    public static IReadOnlyList<AnswerRecord> ReadJsonl(string path)
    {
        var records = new List<AnswerRecord>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(line);
            }
            catch (JsonException e)
            {
                throw new DataFormatException(path, $"line {lineNumber}", $"invalid JSON ({e.Message})");
            }
            records.Add(FromJson(node, path, $"line {lineNumber}") with { Line = lineNumber });
        }
        if (records.Count == 0) throw new DataFormatException(path, "line 1", "no answers in the file");
        return records;
    }

    static AnswerRecord FromJson(JsonNode? node, string path, string location)
    {
        if (node is not JsonObject json) throw new DataFormatException(path, location, "record is not a JSON object");
        string Field(string key, bool required = true)
        {
            var value = json[key];
            if (value is null) return required ? throw new DataFormatException(path, location, $"missing '{key}'") : "";
            return value.GetValueKind() switch
            {
                JsonValueKind.String => value.GetValue<string>(),
                JsonValueKind.Number => value.ToJsonString(),
                _ => throw new DataFormatException(path, location, $"'{key}' is not a string or number"),
            };
        }
        return new AnswerRecord(Field("question_id"), Field("prompt", required: false), Field("text"),
                                Field("answer_id", required: false), Field("model_id", required: false),
                                json["metadata"] as JsonObject);
    }
}
