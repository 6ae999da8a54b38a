using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlavaMed.Data.SelfInstruct;

/// <summary>One figure of LLaVA-Med's <c>llava_med_instruct_fig_captions.json</c>: <c>pair_id</c>, <c>fig_label</c>,
/// <c>fig_caption</c>, <c>in_text_mention</c> (sentences of the article that cite the figure; in the release each
/// is <c>{"tokens": "...", "entities": [...]}</c>, in the few-shot examples a plain string) and <c>domain</c>
/// (flags chest_xray, mri, ct_scan, histology, gross). Other keys (pmid, fig_id, ...) are kept in <see cref="Extra"/>.</summary>
public sealed record FigureCaptionRecord(string PairId, string FigLabel, string FigCaption,
                                         IReadOnlyList<string> InTextMentions, JsonObject? Domain = null,
                                         JsonObject? Extra = null)
{
    public static FigureCaptionRecord FromJson(JsonNode? node, string path, string location)
    {
        if (node is not JsonObject json) throw new DataFormatException(path, location, "record is not a JSON object");
        string Text(string key, bool required)
        {
            var value = json[key];
            if (value is null) return required ? throw new DataFormatException(path, location, $"missing '{key}'") : "";
            return value.GetValueKind() switch
            {
                JsonValueKind.String => value.GetValue<string>(),
                JsonValueKind.Number => value.ToJsonString(),
                _ => throw new DataFormatException(path, location, $"'{key}' is not a string"),
            };
        }
        var mentions = ReadMentions(json["in_text_mention"], path, location);
        if (json["domain"] is { } domain && domain is not JsonObject)
            throw new DataFormatException(path, location, "'domain' is not an object of flags");
        var extra = new JsonObject();
        foreach (var (key, value) in json)
            if (key is not ("pair_id" or "fig_label" or "fig_caption" or "in_text_mention" or "domain"))
                extra[key] = value?.DeepClone();
        return new FigureCaptionRecord(Text("pair_id", required: true), Text("fig_label", required: false),
                                       Text("fig_caption", required: true), mentions,
                                       json["domain"]?.DeepClone() as JsonObject, extra.Count > 0 ? extra : null);
    }

    /// <summary>Accepts a list of strings or of <c>{"tokens": ...}</c> objects (both appear in LLaVA-Med's files),
    /// a single string, or null.</summary>
    static IReadOnlyList<string> ReadMentions(JsonNode? node, string path, string location)
    {
        string One(JsonNode? item) => item switch
        {
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonObject o when o["tokens"]?.GetValueKind() == JsonValueKind.String => o["tokens"]!.GetValue<string>(),
            _ => throw new DataFormatException(path, location, "'in_text_mention' items must be strings or {\"tokens\": string}"),
        };
        return node switch
        {
            null => [],
            JsonArray array => array.Select(One).ToList(),
            _ => [One(node)],
        };
    }

    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["pair_id"] = PairId,
            ["fig_label"] = FigLabel,
            ["fig_caption"] = FigCaption,
            ["in_text_mention"] = new JsonArray(InTextMentions.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
        };
        if (Domain is not null) json["domain"] = Domain.DeepClone();
        foreach (var (key, value) in Extra ?? []) json[key] = value?.DeepClone();
        return json;
    }

    /// <summary>Reads a captions file in any of the layouts LLaVA-Med uses: an object of domain name to record list
    /// (how <c>instruct_generate.py</c> reads the release; records are interleaved across domains round-robin, as its
    /// <c>zip_longest</c> does), a JSON array, or JSONL. Returns the records and the bad ones (with file and
    /// location); <paramref name="skipBadRecords"/> false makes the first bad record an error.</summary>
    public static (IReadOnlyList<FigureCaptionRecord> Records, IReadOnlyList<DataFormatException> Bad) ReadFile(
        string path, bool skipBadRecords = false)
    {
        var records = new List<FigureCaptionRecord>();
        var bad = new List<DataFormatException>();
        void Add(JsonNode? node, string location)
        {
            try
            {
                records.Add(FromJson(node, path, location));
            }
            catch (DataFormatException e) when (skipBadRecords)
            {
                bad.Add(e);
            }
        }
        var text = File.ReadAllText(path);
        var trimmed = text.TrimStart();
        if (trimmed.StartsWith('[') || trimmed.StartsWith('{') && !IsJsonl(text))
        {
            JsonNode? root;
            try
            {
                root = JsonNode.Parse(text);
            }
            catch (JsonException e)
            {
                throw new DataFormatException(path, $"line {e.LineNumber + 1}", $"invalid JSON ({e.Message})");
            }
            if (root is JsonArray array)
                for (int i = 0; i < array.Count; i++) Add(array[i], $"[{i}]");
            else if (root is JsonObject groups && groups.All(g => g.Value is JsonArray))
            {
                var lists = groups.Select(g => (Name: g.Key, Items: (JsonArray)g.Value!)).ToList();
                for (int round = 0; lists.Any(l => round < l.Items.Count); round++)
                    foreach (var (name, items) in lists)
                        if (round < items.Count) Add(items[round], $"{name}[{round}]");
            }
            else throw new DataFormatException(path, "top level", "expected a list of records, an object of domain -> list, or JSONL");
        }
        else
        {
            int lineNumber = 0;
            foreach (var line in text.Split('\n'))
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
                    var error = new DataFormatException(path, $"line {lineNumber}", $"invalid JSON ({e.Message})");
                    if (!skipBadRecords) throw error;
                    bad.Add(error);
                    continue;
                }
                Add(node, $"line {lineNumber}");
            }
        }
        return (records, bad);
    }

    /// <summary>JSONL starts with an object on its first line that closes on that line, then more lines.</summary>
    static bool IsJsonl(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length < 2) return false;
        try
        {
            return JsonNode.Parse(lines[0]) is JsonObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The first domain flag that is true, in the order of LLaVA-Med's summarize_gpt_review.py
    /// (chest_xray, mri, histology, gross, ct_scan); null when none is.</summary>
    public static string? FirstDomain(JsonObject? domain) =>
        DomainOrder.FirstOrDefault(name => domain?[name] is JsonValue v && v.TryGetValue<bool>(out var flag) && flag);

    public static readonly IReadOnlyList<string> DomainOrder = ["chest_xray", "mri", "histology", "gross", "ct_scan"];
}
