using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlavaMed.Data;
using LlavaMed.Models;

namespace LlavaMed.Curriculum;

/// <summary>A grid of curriculum variants for <see cref="AblationRunner"/>, read from a JSON file:
/// <code>
/// {
///   "description": "optional text",
///   "scale": "full",              // or "quick" (default "full"; `llava-med ablate --quick` overrides it)
///   "seed": 0,                    // default 0
///   "variants": [
///     { "name": "default" },
///     { "name": "stage1-0", "label": "stage 1: 0 epochs", "stage1_epochs": 0 },
///     { "name": "instruct-im", "inline_mentions": true },
///     { "name": "instruct-10k", "instruction_fraction": 0.1667 },
///     { "name": "res-1.5x", "image_size_factor": 1.5 },
///     { "name": "linear", "projector": "linear" },
///     { "name": "from-bare-lm", "start": "bare-lm" }
///   ]
/// }
/// </code>
/// Each variant has a unique <c>name</c> (letters, digits, '.', '_', '-': it names the variant's output folder), an
/// optional <c>label</c> for tables, and any of the overrides of <see cref="CurriculumVariant"/>: <c>stage1_epochs</c>
/// (0 skips stage 1), <c>inline_mentions</c>, <c>instruction_fraction</c> (0 to 1), <c>image_size_factor</c>,
/// <c>projector</c> (<c>linear</c>, <c>mlp2x_gelu</c>, ...) and <c>start</c> (<c>general</c> or <c>bare-lm</c>); what a
/// variant leaves out is the default curriculum's. Unknown fields are errors, so a misspelt override cannot silently
/// run the default.</summary>
public sealed partial record AblationGrid(string Scale, int Seed, IReadOnlyList<CurriculumVariant> Variants)
{
    public const string QuickScale = "quick", FullScale = "full";

    /// <summary>The file the grid was read from (named in error messages).</summary>
    public string Source { get; init; } = "(grid)";

    public string? Description { get; init; }

    static readonly string[] GridFields = ["description", "scale", "seed", "variants"];
    static readonly string[] VariantFields =
        ["name", "label", "stage1_epochs", "inline_mentions", "instruction_fraction", "image_size_factor", "projector", "start"];

    /// <summary>The folder that holds the shared starting models; no variant may take its name.</summary>
    public const string StartingModelsFolder = "starting-models";

    /// <summary>The built-in scale the grid names.</summary>
    public CurriculumScale BaseScale => Scale == QuickScale ? CurriculumScale.QuickRun : CurriculumScale.Full;

    public static AblationGrid Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"grid file not found: {path}", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Reads a grid; every problem is a <see cref="DataFormatException"/> naming <paramref name="source"/>
    /// and the field (e.g. <c>variants[2].stage1_epochs</c>).</summary>
    public static AblationGrid Parse(string json, string source)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new DataFormatException(source, $"line {(e.LineNumber ?? 0) + 1}", $"invalid JSON ({e.Message})");
        }
        if (root is not JsonObject grid) throw new DataFormatException(source, "top level", "a grid is a JSON object with \"variants\"");
        RejectUnknown(grid, GridFields, source, "top level");
        var scale = grid["scale"] is null ? FullScale : String(grid, "scale", source, "scale");
        if (scale is not (QuickScale or FullScale)) throw new DataFormatException(source, "scale", $"must be \"quick\" or \"full\", not \"{scale}\"");
        var seed = grid["seed"] is null ? 0 : Integer(grid, "seed", source, "seed");
        if (grid["variants"] is not JsonArray array || array.Count == 0)
            throw new DataFormatException(source, "variants", "must be a non-empty array of variants ({\"name\": ..., overrides})");
        var variants = array.Select((node, i) => ReadVariant(node, source, $"variants[{i}]")).ToList();
        foreach (var duplicate in variants.GroupBy(v => v.Name, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
            throw new DataFormatException(source, $"variants[{variants.FindLastIndex(v => string.Equals(v.Name, duplicate.Key, StringComparison.OrdinalIgnoreCase))}].name",
                                          $"the name '{duplicate.Key}' is used twice (each variant has its own output folder)");
        return new AblationGrid(scale, seed, variants)
        {
            Source = source,
            Description = grid["description"] is null ? null : String(grid, "description", source, "description"),
        };
    }

    static CurriculumVariant ReadVariant(JsonNode? node, string source, string at)
    {
        if (node is not JsonObject json) throw new DataFormatException(source, at, "a variant is a JSON object with a \"name\"");
        RejectUnknown(json, VariantFields, source, at);
        if (json["name"] is null) throw new DataFormatException(source, $"{at}.name", "missing: every variant needs a name");
        var name = String(json, "name", source, $"{at}.name");
        if (!FolderName().IsMatch(name) || name == StartingModelsFolder)
            throw new DataFormatException(source, $"{at}.name", $"'{name}' cannot name a folder: use letters, digits, '.', '_' and '-' (not '{StartingModelsFolder}')");
        var variant = new CurriculumVariant { Name = name, Label = json["label"] is null ? null : String(json, "label", source, $"{at}.label") };
        if (json["stage1_epochs"] is not null)
        {
            var epochs = Integer(json, "stage1_epochs", source, $"{at}.stage1_epochs");
            if (epochs < 0) throw new DataFormatException(source, $"{at}.stage1_epochs", $"must be 0 (skip stage 1) or more, not {epochs}");
            variant = variant with { Stage1Epochs = epochs };
        }
        if (json["inline_mentions"] is not null)
            variant = variant with { InlineMentions = json["inline_mentions"]!.GetValueKind() switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new DataFormatException(source, $"{at}.inline_mentions", $"must be true or false, not {json["inline_mentions"]!.ToJsonString()}"),
            } };
        if (json["instruction_fraction"] is not null)
        {
            var fraction = Number(json, "instruction_fraction", source, $"{at}.instruction_fraction");
            if (fraction is not (> 0 and <= 1))
                throw new DataFormatException(source, $"{at}.instruction_fraction", $"must be above 0 and at most 1 (1/6 for the paper's 10K of 60K), not {fraction}");
            variant = variant with { InstructionFraction = fraction };
        }
        if (json["image_size_factor"] is not null)
        {
            var factor = Number(json, "image_size_factor", source, $"{at}.image_size_factor");
            if (factor is not (> 0 and <= 8)) throw new DataFormatException(source, $"{at}.image_size_factor", $"must be above 0 and at most 8, not {factor}");
            variant = variant with { ImageSizeFactor = factor };
        }
        if (json["projector"] is not null)
        {
            var projector = String(json, "projector", source, $"{at}.projector");
            try
            {
                Projector.Validate(projector, "projector");
            }
            catch (ModelConfigException)
            {
                throw new DataFormatException(source, $"{at}.projector", $"unknown projector '{projector}' (linear or mlp<N>x_gelu, e.g. mlp2x_gelu)");
            }
            variant = variant with { ProjectorType = projector };
        }
        if (json["start"] is not null)
            variant = variant with { Start = String(json, "start", source, $"{at}.start") switch
            {
                "general" => StartingPoint.General,
                "bare-lm" => StartingPoint.BareLanguageModel,
                var other => throw new DataFormatException(source, $"{at}.start", $"must be \"general\" (from LLaVA) or \"bare-lm\" (from Vicuna), not \"{other}\""),
            } };
        return variant;
    }

    /// <summary>The variant's overrides in the grid's format (what it changes, and its label).</summary>
    public static JsonObject VariantToJson(CurriculumVariant variant)
    {
        var json = new JsonObject { ["name"] = variant.Name };
        if (variant.Label is not null) json["label"] = variant.Label;
        if (variant.Stage1Epochs is { } epochs) json["stage1_epochs"] = epochs;
        if (variant.InlineMentions) json["inline_mentions"] = true;
        if (variant.InstructionFraction != 1) json["instruction_fraction"] = variant.InstructionFraction;
        if (variant.ImageSizeFactor != 1) json["image_size_factor"] = variant.ImageSizeFactor;
        if (variant.ProjectorType is not null) json["projector"] = variant.ProjectorType;
        if (variant.Start != StartingPoint.General) json["start"] = "bare-lm";
        return json;
    }

    /// <summary>Reads one variant written by <see cref="VariantToJson"/>.</summary>
    public static CurriculumVariant VariantFromJson(JsonNode? json, string source, string at) => ReadVariant(json, source, at);

    /// <summary>The variants named in <paramref name="names"/> (all when null or empty); an unknown name is an error
    /// that lists the grid's names.</summary>
    public IReadOnlyList<CurriculumVariant> VariantsNamed(IReadOnlyCollection<string>? names)
    {
        if (names is null || names.Count == 0) return Variants;
        var unknown = names.Where(n => Variants.All(v => v.Name != n)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"{Source} has no variant {string.Join(", ", unknown.Select(n => $"'{n}'"))} (it has {string.Join(", ", Variants.Select(v => v.Name))})");
        return Variants.Where(v => names.Contains(v.Name)).ToList();
    }

    /// <summary>Checks that every variant can run at <paramref name="baseScale"/> (an image size factor must give a
    /// multiple of the patch size), before anything is trained.</summary>
    public void Validate(CurriculumScale baseScale)
    {
        foreach (var (variant, i) in Variants.Select((v, i) => (v, i)))
        {
            try
            {
                variant.Apply(baseScale);
            }
            catch (ArgumentException e)
            {
                throw new DataFormatException(Source, $"variants[{i}].image_size_factor", e.Message);
            }
        }
    }

    static void RejectUnknown(JsonObject json, string[] known, string source, string at)
    {
        foreach (var (key, _) in json)
            if (!known.Contains(key))
                throw new DataFormatException(source, at == "top level" ? key : $"{at}.{key}", $"unknown field '{key}' (known: {string.Join(", ", known)})");
    }

    static string String(JsonObject json, string key, string source, string at) =>
        json[key]!.GetValueKind() == JsonValueKind.String ? json[key]!.GetValue<string>()
            : throw new DataFormatException(source, at, $"must be a string, not {json[key]!.ToJsonString()}");

    static int Integer(JsonObject json, string key, string source, string at) =>
        json[key]!.GetValueKind() == JsonValueKind.Number && json[key]!.AsValue().TryGetValue<int>(out var value) ? value
            : throw new DataFormatException(source, at, $"must be a whole number, not {json[key]!.ToJsonString()}");

    static double Number(JsonObject json, string key, string source, string at) =>
        json[key]!.GetValueKind() == JsonValueKind.Number ? json[key]!.GetValue<double>()
            : throw new DataFormatException(source, at, $"must be a number, not {json[key]!.ToJsonString()}");

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex FolderName();
}
