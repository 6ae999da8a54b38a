using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlavaMed.Data;

/// <summary>Typed access to the fields of one JSON record; every problem is a <see cref="DataFormatException"/> that
/// names the file, the record's location and the field.</summary>
internal sealed class RecordFields
{
    readonly JsonObject json;
    public string Path { get; }
    public string Location { get; }

    public RecordFields(JsonNode node, string path, string location)
    {
        (Path, Location) = (path, location);
        json = node as JsonObject ?? throw Problem("record is not a JSON object");
    }

    public JsonObject Json => json;

    public DataFormatException Problem(string problem) => new(Path, Location, problem);

    public bool Has(string key) => json[key] is not null;

    /// <summary>A required text field; numbers are accepted as their decimal text (VQA-RAD has numeric answers).</summary>
    public string Text(string key) => OptionalText(key) ?? throw Problem($"missing '{key}'");

    public string? OptionalText(string key) => json[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
        _ => throw Problem($"'{key}' is not a string"),
    };

    public long Integer(string key) => json[key] switch
    {
        null => throw Problem($"missing '{key}'"),
        JsonValue v when v.TryGetValue<long>(out var n) => n,
        JsonValue v when v.TryGetValue<string>(out var s) && long.TryParse(s, out var n) => n,
        _ => throw Problem($"'{key}' is not an integer"),
    };

    public IReadOnlyList<string>? OptionalTextList(string key) => json[key] switch
    {
        null => null,
        JsonArray array => array.Select((item, i) => item is JsonValue v && v.TryGetValue<string>(out var s) ? s
                                             : throw Problem($"'{key}[{i}]' is not a string")).ToList(),
        _ => throw Problem($"'{key}' is not a list"),
    };
}
