using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlavaMed.Data;

/// <summary>Strict reading of small JSON Lines files (answer files, chat questions): every error names the file
/// and the line.</summary>
public static class JsonFields
{
    /// <summary>The non-blank lines of a JSONL file as (JSON, line number); invalid JSON and an empty file are
    /// <see cref="DataFormatException"/>s.</summary>
    public static IReadOnlyList<(JsonNode? Node, int Line)> ReadStrictLines(string path, string whatIsEmpty)
    {
        var records = new List<(JsonNode?, int)>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                records.Add((JsonNode.Parse(line), lineNumber));
            }
            catch (JsonException e)
            {
                throw new DataFormatException(path, $"line {lineNumber}", $"invalid JSON ({e.Message})");
            }
        }
        if (records.Count == 0) throw new DataFormatException(path, "line 1", $"no {whatIsEmpty} in the file");
        return records;
    }

    /// <summary>A string field (numbers are accepted and kept as written, since ids are often numeric); a missing
    /// required field, or one of another kind, is a <see cref="DataFormatException"/>.</summary>
    public static string Text(JsonObject json, string key, string path, string location, bool required = true)
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
}
