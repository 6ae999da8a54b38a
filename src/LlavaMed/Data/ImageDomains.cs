using System.Text.Json.Nodes;

namespace LlavaMed.Data;

/// <summary>The five image domains of the LLaVA-Med data (the <c>domain</c> flags of the instruction, caption and
/// QA50 records: <c>chest_xray</c>, <c>mri</c>, <c>ct_scan</c>, <c>histology</c>, <c>gross</c>). A figure may belong
/// to several.</summary>
[Flags]
public enum ImageDomains
{
    None = 0,
    ChestXray = 1,
    Mri = 2,
    CtScan = 4,
    Histology = 8,
    Gross = 16,
}

public static class ImageDomainFlags
{
    static readonly (string Key, ImageDomains Flag)[] Keys =
    [
        ("chest_xray", ImageDomains.ChestXray), ("mri", ImageDomains.Mri), ("ct_scan", ImageDomains.CtScan),
        ("histology", ImageDomains.Histology), ("gross", ImageDomains.Gross),
    ];

    /// <summary>Parses a <c>domain</c> object; an unknown key or a value that is not a boolean is an error.</summary>
    public static ImageDomains Parse(JsonNode? node, string path, string location)
    {
        if (node is null) return ImageDomains.None;
        if (node is not JsonObject flags) throw new DataFormatException(path, location, "'domain' is not an object of flags");
        var domains = ImageDomains.None;
        foreach (var (key, value) in flags)
        {
            var flag = Keys.FirstOrDefault(k => k.Key == key).Flag;
            if (flag == ImageDomains.None) throw new DataFormatException(path, location, $"unknown domain '{key}'");
            if (value is not JsonValue v || !v.TryGetValue<bool>(out var set))
                throw new DataFormatException(path, location, $"domain '{key}' is not true/false");
            if (set) domains |= flag;
        }
        return domains;
    }

    public static JsonObject ToJson(ImageDomains domains) =>
        new(Keys.Select(k => KeyValuePair.Create(k.Key, (JsonNode?)JsonValue.Create(domains.HasFlag(k.Flag)))));

    /// <summary>The domains of an instruction-tuning record (its <c>domain</c> key, kept in
    /// <see cref="LlavaSample.Extra"/>); None for records without one, e.g. the alignment set.</summary>
    public static ImageDomains Domains(this LlavaSample sample) =>
        Parse(sample.Extra?["domain"], "(sample)", sample.Id);
}
