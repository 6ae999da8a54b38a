using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlavaMed.Models;

/// <summary>A config.json key that must be present is missing, or a value is unusable.</summary>
public sealed class ModelConfigException(string message) : Exception(message);

/// <summary>Hugging Face <c>CLIPVisionConfig</c>. Defaults equal <c>openai/clip-vit-large-patch14-336</c>, the tower
/// of LLaVA-Med v1.5.</summary>
public sealed record ClipVisionConfig
{
    public int HiddenSize { get; init; } = 1024;
    public int IntermediateSize { get; init; } = 4096;
    public int NumHiddenLayers { get; init; } = 24;
    public int NumAttentionHeads { get; init; } = 16;
    public int NumChannels { get; init; } = 3;
    public int ImageSize { get; init; } = 336;
    public int PatchSize { get; init; } = 14;
    public string HiddenAct { get; init; } = "quick_gelu";
    public double LayerNormEps { get; init; } = 1e-5;

    public int NumPatches => (ImageSize / PatchSize) * (ImageSize / PatchSize);
    public int NumPositions => NumPatches + 1;

    /// <summary>The towers LLaVA-Med's released configs name, so a config that names one needs no tower folder to
    /// be built (the weights still come from the checkpoint or a tower folder).</summary>
    public static readonly IReadOnlyDictionary<string, ClipVisionConfig> KnownTowers =
        new Dictionary<string, ClipVisionConfig>
        {
            ["openai/clip-vit-large-patch14-336"] = new(),
            ["openai/clip-vit-large-patch14"] = new() { ImageSize = 224 },
        };

    public static ClipVisionConfig FromJson(JsonObject json, string source) => new()
    {
        HiddenSize = ConfigReader.Required<int>(json, "hidden_size", source),
        IntermediateSize = ConfigReader.Required<int>(json, "intermediate_size", source),
        NumHiddenLayers = ConfigReader.Required<int>(json, "num_hidden_layers", source),
        NumAttentionHeads = ConfigReader.Required<int>(json, "num_attention_heads", source),
        NumChannels = ConfigReader.Optional(json, "num_channels", 3),
        ImageSize = ConfigReader.Required<int>(json, "image_size", source),
        PatchSize = ConfigReader.Required<int>(json, "patch_size", source),
        HiddenAct = ConfigReader.Optional(json, "hidden_act", "quick_gelu"),
        LayerNormEps = ConfigReader.Optional(json, "layer_norm_eps", 1e-5),
    };

    /// <summary>Reads a CLIP folder's config.json: a <c>CLIPVisionConfig</c> or a full <c>CLIPConfig</c> (whose
    /// <c>vision_config</c> is used), as <c>openai/clip-vit-*</c> downloads are.</summary>
    public static ClipVisionConfig FromFile(string path)
    {
        var json = ConfigReader.ReadObject(path);
        return json["vision_config"] is JsonObject nested ? FromJson(nested, path) : FromJson(json, path);
    }
}

/// <summary>The LLaVA config (<c>llava_mistral</c>, <c>llava_llama</c> or v1.0's <c>llava</c>): the decoder's
/// keys plus LLaVA's <c>mm_*</c> keys. One default per key, which is also what <see cref="FromFolder"/> reads when
/// config.json lacks the key: the decoder's defaults equal <c>microsoft/llava-med-v1.5-mistral-7b</c>; the three keys
/// LLaVA's own code falls back on when a config lacks them (<c>mm_projector_type</c> linear, <c>image_aspect_ratio</c>
/// square, <c>tokenizer_model_max_length</c> none: what a v1.0 checkpoint loads as) default to LLaVA's values, and
/// <see cref="LlavaMedV15Mistral7B"/> is the released v1.5 configuration whole.</summary>
public sealed record LlavaConfig
{
    public string ModelType { get; init; } = "llava_mistral";

    // Decoder (Mistral / LLaMA).
    public int VocabSize { get; init; } = 32000;
    public int HiddenSize { get; init; } = 4096;
    public int IntermediateSize { get; init; } = 14336;
    public int NumHiddenLayers { get; init; } = 32;
    public int NumAttentionHeads { get; init; } = 32;
    public int NumKeyValueHeads { get; init; } = 8;
    public string HiddenAct { get; init; } = "silu";
    public int MaxPositionEmbeddings { get; init; } = 32768;
    public double RmsNormEps { get; init; } = 1e-5;
    public double RopeTheta { get; init; } = 1e6;
    public int? SlidingWindow { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public int BosTokenId { get; init; } = 1;
    public int EosTokenId { get; init; } = 2;
    public int? PadTokenId { get; init; }

    // Multimodal.
    public string MmProjectorType { get; init; } = "linear";
    public int MmHiddenSize { get; init; } = 1024;
    public int MmVisionSelectLayer { get; init; } = -2;
    public string MmVisionSelectFeature { get; init; } = "patch";
    public string MmVisionTower { get; init; } = "openai/clip-vit-large-patch14-336";
    public bool MmUseImStartEnd { get; init; }
    public bool MmUseImPatchToken { get; init; }
    public string ImageAspectRatio { get; init; } = "square";
    public int? TokenizerModelMaxLength { get; init; }
    public string TokenizerPaddingSide { get; init; } = "right";
    public ClipVisionConfig Vision { get; init; } = new();

    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Every key's default (what a config.json without the key means).</summary>
    static readonly LlavaConfig Defaults = new();

    /// <summary><c>microsoft/llava-med-v1.5-mistral-7b</c>'s configuration (a test checks its 7,566,219,264 parameters).</summary>
    public static LlavaConfig LlavaMedV15Mistral7B { get; } = new() { MmProjectorType = "mlp2x_gelu", ImageAspectRatio = "pad", TokenizerModelMaxLength = 2048 };

    /// <summary>True for the paper's v1.0 layout: <c>&lt;im_start&gt;</c> + N x <c>&lt;im_patch&gt;</c> +
    /// <c>&lt;im_end&gt;</c> tokens whose patch rows are overwritten, instead of one spliced -200 placeholder.</summary>
    public bool UsesImagePatchTokens => ModelType == "llava" && MmUseImStartEnd;

    /// <summary>Reads <c>config.json</c> of a LLaVA checkpoint folder. The vision settings come from the config's
    /// <c>vision_config</c> object when present, else from <c>mm_vision_tower</c>: a folder (relative to the model
    /// folder, or absolute) holding a CLIP config.json, or one of <see cref="ClipVisionConfig.KnownTowers"/>.
    /// Keys the released files carry but inference does not use (<c>mm_projector_lr</c>,
    /// <c>tune_mm_mlp_adapter</c>, <c>use_cache</c>, ...) are ignored.</summary>
    public static LlavaConfig FromFolder(string modelFolder) => FromFile(Path.Combine(modelFolder, "config.json"));

    /// <summary>Reads a LLaVA <c>config.json</c> under any file name (a relative <c>mm_vision_tower</c> folder is
    /// looked up beside it), as <see cref="FromFolder"/> does.</summary>
    public static LlavaConfig FromFile(string path)
    {
        var modelFolder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var json = ConfigReader.ReadObject(path);
        var modelType = ConfigReader.Required<string>(json, "model_type", path);
        // transformers 4.28 (LLaVA-Med v1.0) wrote neither rope_theta, num_key_value_heads nor
        // max_position_embeddings for LLaMA; its code hard-coded 10000 and 2048.
        var isMistral = modelType == "llava_mistral";
        if (modelType is not ("llava_mistral" or "llava_llama" or "llava"))
            throw new ModelConfigException($"{path}: model_type '{modelType}' is not a LLaVA model "
                                           + "(expected llava_mistral, llava_llama or llava)");
        var heads = ConfigReader.Required<int>(json, "num_attention_heads", path);
        var config = new LlavaConfig
        {
            ModelType = modelType,
            VocabSize = ConfigReader.Required<int>(json, "vocab_size", path),
            HiddenSize = ConfigReader.Required<int>(json, "hidden_size", path),
            IntermediateSize = ConfigReader.Required<int>(json, "intermediate_size", path),
            NumHiddenLayers = ConfigReader.Required<int>(json, "num_hidden_layers", path),
            NumAttentionHeads = heads,
            NumKeyValueHeads = ConfigReader.Optional(json, "num_key_value_heads", heads),
            HiddenAct = ConfigReader.Optional(json, "hidden_act", Defaults.HiddenAct),
            MaxPositionEmbeddings = ConfigReader.Optional(json, "max_position_embeddings", isMistral ? 32768 : 2048),
            RmsNormEps = ConfigReader.Optional(json, "rms_norm_eps", isMistral ? 1e-5 : 1e-6),
            RopeTheta = ConfigReader.Optional(json, "rope_theta", isMistral ? 1e6 : 1e4),
            SlidingWindow = ConfigReader.Optional<int?>(json, "sliding_window", Defaults.SlidingWindow),
            TieWordEmbeddings = ConfigReader.Optional(json, "tie_word_embeddings", Defaults.TieWordEmbeddings),
            BosTokenId = ConfigReader.Optional(json, "bos_token_id", Defaults.BosTokenId),
            EosTokenId = ConfigReader.Optional(json, "eos_token_id", Defaults.EosTokenId),
            PadTokenId = ConfigReader.Optional<int?>(json, "pad_token_id", Defaults.PadTokenId),
            MmProjectorType = ConfigReader.Optional(json, "mm_projector_type", Defaults.MmProjectorType),
            MmHiddenSize = ConfigReader.Required<int>(json, "mm_hidden_size", path),
            MmVisionSelectLayer = ConfigReader.Optional(json, "mm_vision_select_layer", Defaults.MmVisionSelectLayer),
            MmVisionSelectFeature = ConfigReader.Optional(json, "mm_vision_select_feature", Defaults.MmVisionSelectFeature),
            MmVisionTower = ConfigReader.Required<string>(json, "mm_vision_tower", path),
            MmUseImStartEnd = ConfigReader.Optional(json, "mm_use_im_start_end", Defaults.MmUseImStartEnd),
            MmUseImPatchToken = ConfigReader.Optional(json, "mm_use_im_patch_token", modelType == "llava"),
            ImageAspectRatio = ConfigReader.Optional(json, "image_aspect_ratio", Defaults.ImageAspectRatio),
            TokenizerModelMaxLength = ConfigReader.Optional<int?>(json, "tokenizer_model_max_length", Defaults.TokenizerModelMaxLength),
            TokenizerPaddingSide = ConfigReader.Optional(json, "tokenizer_padding_side", Defaults.TokenizerPaddingSide),
        };
        if (ConfigReader.Optional(json, "mm_patch_merge_type", "flat") != "flat")
            throw new ModelConfigException($"{path}: mm_patch_merge_type '{json["mm_patch_merge_type"]}' is not "
                                           + "supported (LLaVA-Med uses 'flat')");
        config = config with { Vision = ReadVisionConfig(json, config.MmVisionTower, modelFolder, path) };
        config.Validate(path);
        return config;
    }

    /// <summary>The folder <c>mm_vision_tower</c> names, resolved against the model folder; null when it names a
    /// hub id that is not a local folder.</summary>
    public string? ResolveVisionTowerFolder(string modelFolder)
    {
        var candidate = Path.IsPathRooted(MmVisionTower) ? MmVisionTower : Path.Combine(modelFolder, MmVisionTower);
        return Directory.Exists(candidate) ? Path.GetFullPath(candidate) : null;
    }

    static ClipVisionConfig ReadVisionConfig(JsonObject json, string tower, string modelFolder, string path)
    {
        if (json["vision_config"] is JsonObject inline) return ClipVisionConfig.FromJson(inline, path + " vision_config");
        var folder = Path.IsPathRooted(tower) ? tower : Path.Combine(modelFolder, tower);
        var towerConfig = Path.Combine(folder, "config.json");
        if (File.Exists(towerConfig)) return ClipVisionConfig.FromFile(towerConfig);
        if (ClipVisionConfig.KnownTowers.TryGetValue(tower, out var known)) return known;
        throw new ModelConfigException($"{path}: mm_vision_tower '{tower}' is neither a folder with a config.json "
                                       + "nor a known CLIP tower, and config.json has no vision_config");
    }

    void Validate(string source)
    {
        if (HiddenSize % NumAttentionHeads != 0)
            throw new ModelConfigException($"{source}: hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new ModelConfigException($"{source}: num_attention_heads {NumAttentionHeads} is not a multiple of num_key_value_heads {NumKeyValueHeads}");
        if (HiddenAct != "silu")
            throw new ModelConfigException($"{source}: hidden_act '{HiddenAct}' is not supported (Mistral and LLaMA use silu)");
        if (MmVisionSelectFeature is not ("patch" or "cls_patch"))
            throw new ModelConfigException($"{source}: mm_vision_select_feature '{MmVisionSelectFeature}' must be patch or cls_patch");
        if (Vision.HiddenAct is not ("quick_gelu" or "gelu"))
            throw new ModelConfigException($"{source}: vision hidden_act '{Vision.HiddenAct}' must be quick_gelu or gelu");
        Projector.Validate(MmProjectorType, source);
        int states = Vision.NumHiddenLayers + 1;
        if (MmVisionSelectLayer >= states || MmVisionSelectLayer < -states)
            throw new ModelConfigException($"{source}: mm_vision_select_layer {MmVisionSelectLayer} is outside the tower's {states} hidden states");
    }

    /// <summary>Writes the keys LLaVA's <c>save_pretrained</c> writes, so Python tools read our checkpoints.</summary>
    public JsonObject ToJson()
    {
        var architecture = ModelType switch
        {
            "llava_mistral" => "LlavaMistralForCausalLM",
            "llava_llama" => "LlavaLlamaForCausalLM",
            _ => "LlavaLlamaForCausalLM",
        };
        return new JsonObject
        {
            ["architectures"] = new JsonArray(architecture),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["hidden_act"] = HiddenAct,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["sliding_window"] = SlidingWindow,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenId,
            ["pad_token_id"] = PadTokenId,
            ["mm_projector_type"] = MmProjectorType,
            ["mm_hidden_size"] = MmHiddenSize,
            ["mm_vision_select_layer"] = MmVisionSelectLayer,
            ["mm_vision_select_feature"] = MmVisionSelectFeature,
            ["mm_vision_tower"] = MmVisionTower,
            ["mm_use_im_start_end"] = MmUseImStartEnd,
            ["mm_use_im_patch_token"] = MmUseImPatchToken,
            ["mm_patch_merge_type"] = "flat",
            ["image_aspect_ratio"] = ImageAspectRatio,
            ["tokenizer_model_max_length"] = TokenizerModelMaxLength,
            ["tokenizer_padding_side"] = TokenizerPaddingSide,
            ["use_mm_proj"] = true,
            ["torch_dtype"] = "float32",
            ["vision_config"] = new JsonObject
            {
                ["architectures"] = new JsonArray("CLIPVisionModel"),
                ["model_type"] = "clip_vision_model",
                ["hidden_size"] = Vision.HiddenSize,
                ["intermediate_size"] = Vision.IntermediateSize,
                ["num_hidden_layers"] = Vision.NumHiddenLayers,
                ["num_attention_heads"] = Vision.NumAttentionHeads,
                ["num_channels"] = Vision.NumChannels,
                ["image_size"] = Vision.ImageSize,
                ["patch_size"] = Vision.PatchSize,
                ["hidden_act"] = Vision.HiddenAct,
                ["layer_norm_eps"] = Vision.LayerNormEps,
            },
        };
    }
}

/// <summary>Typed access to config.json values with errors that name the file and the key.</summary>
internal static class ConfigReader
{
    public static JsonObject ReadObject(string path)
    {
        if (!File.Exists(path)) throw new ModelConfigException($"{path}: file not found");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                   ?? throw new ModelConfigException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"{path}: invalid JSON ({e.Message})");
        }
    }

    public static T Required<T>(JsonObject json, string key, string source)
    {
        if (json[key] is null) throw new ModelConfigException($"{source}: missing required key '{key}'");
        return Convert<T>(json[key]!, key, source);
    }

    public static T Optional<T>(JsonObject json, string key, T fallback) =>
        json[key] is { } node ? Convert<T>(node, key, "config") : fallback;

    static T Convert<T>(JsonNode node, string key, string source)
    {
        try
        {
            return node.GetValue<JsonElement>().Deserialize<T>()!;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new ModelConfigException($"{source}: key '{key}' has value {node.ToJsonString()}, expected {typeof(T).Name}");
        }
    }
}
