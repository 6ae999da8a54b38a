using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Text;

namespace LlavaMed.Data;

/// <summary>One record of LLaVA's conversation format (alignment, instruction and LLaVA-Med downstream sets):
/// <c>id</c>, optional <c>image</c> (relative to an image root), <c>conversations</c> of human/gpt turns, and the
/// optional downstream <c>answer_type</c> (OPEN / CLOSED). Every other key is kept in <see cref="Extra"/>.</summary>
public sealed record LlavaSample(string Id, string? Image, IReadOnlyList<ConversationTurn> Conversations,
                                 string? AnswerType = null, JsonObject? Extra = null)
{
    /// <summary>The first human turn without the <c>&lt;image&gt;</c> marker: the question of a VQA record.</summary>
    public string Question => Conversations.First(t => t.From == ConversationTurn.HumanSpeaker).Value
        .Replace(LlavaTokenizer.ImagePlaceholder, "").Trim();

    /// <summary>The first gpt turn: the reference answer of a VQA record.</summary>
    public string Answer => Conversations.First(t => t.From == ConversationTurn.GptSpeaker).Value;

    /// <summary>True for closed (yes/no or choice) questions; answer_type is compared case-insensitively and
    /// trimmed, since VQA-RAD's values carry trailing spaces.</summary>
    public bool IsClosed => string.Equals(AnswerType?.Trim(), "CLOSED", StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses one record; <paramref name="location"/> names it in errors (e.g. "line 12", "[3]").</summary>
    public static LlavaSample FromJson(JsonNode? node, string path, string location)
    {
        if (node is not JsonObject json) throw new DataFormatException(path, location, "record is not a JSON object");
        string Text(string key, bool required)
        {
            var value = json[key];
            if (value is null)
                return required ? throw new DataFormatException(path, location, $"missing '{key}'") : null!;
            return value is JsonValue v && v.TryGetValue<string>(out var s) ? s
                 : value is JsonValue n && n.TryGetValue<long>(out var number) ? number.ToString()
                 : throw new DataFormatException(path, location, $"'{key}' is not a string");
        }
        // The released LLaVA-Med files spell the key "conversatons" in places.
        var turnsNode = json["conversations"] ?? json["conversatons"]
                        ?? throw new DataFormatException(path, location, "missing 'conversations'");
        if (turnsNode is not JsonArray turnsArray || turnsArray.Count == 0)
            throw new DataFormatException(path, location, "'conversations' is not a non-empty list");
        var turns = turnsArray.Select((turn, i) =>
        {
            if (turn is not JsonObject t || t["from"]?.GetValueKind() != JsonValueKind.String
                || t["value"]?.GetValueKind() != JsonValueKind.String)
                throw new DataFormatException(path, location, $"conversations[{i}] needs string 'from' and 'value'");
            return new ConversationTurn(t["from"]!.GetValue<string>(), t["value"]!.GetValue<string>());
        }).ToList();
        var extra = new JsonObject();
        foreach (var (key, value) in json)
            if (key is not ("id" or "image" or "conversations" or "conversatons" or "answer_type"))
                extra[key] = value?.DeepClone();
        return new LlavaSample(Text("id", required: true), Text("image", required: false), turns,
                               Text("answer_type", required: false), extra.Count > 0 ? extra : null);
    }

    public JsonObject ToJson()
    {
        var json = new JsonObject { ["id"] = Id };
        if (Image is not null) json["image"] = Image;
        if (AnswerType is not null) json["answer_type"] = AnswerType;
        json["conversations"] = new JsonArray(Conversations
            .Select(t => (JsonNode)new JsonObject { ["from"] = t.From, ["value"] = t.Value }).ToArray());
        foreach (var (key, value) in Extra ?? []) json[key] = value?.DeepClone();
        return json;
    }

    /// <summary>Reads a JSON array file (e.g. LLaVA-Med downstream <c>test.json</c>) strictly, streaming it: a
    /// malformed record is an error naming its index and line. <see cref="LlavaMedFiles.ReadConversations"/> reads
    /// JSONL too and can skip bad records instead.</summary>
    public static IReadOnlyList<LlavaSample> ReadJsonArray(string path) =>
        RecordStream<LlavaSample>.Create(path, BadRecordPolicy.Fail, () => JsonRecordFile.ReadArrays(path),
                                         (node, location) => FromJson(node, path, location)).ToList();
}
