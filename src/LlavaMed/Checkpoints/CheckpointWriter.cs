using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Images;
using LlavaMed.Models;
using LlavaMed.Workbench;
using static TorchSharp.torch;

namespace LlavaMed.Checkpoints;

/// <summary>Saves a model as a Hugging Face LLaVA checkpoint folder that the workbench and Python tools load:
/// <c>config.json</c>, <c>model.safetensors</c> (sharded with an index above the shard size), a
/// <c>vision_tower/</c> folder with the CLIP and image-processor configs that <c>mm_vision_tower</c> names,
/// the tokenizer files when given, and <c>meta.json</c> (who wrote it, when, with what).</summary>
public static class CheckpointWriter
{
    public const string MetaFileName = "meta.json";
    public const string VisionTowerFolderName = "vision_tower";
    static readonly string[] TokenizerFiles =
        ["tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"];

    /// <param name="extraMeta">fields merged into meta.json (stage, step, seed, data fingerprint, ...)</param>
    public static void Save(LlavaForCausalLM model, string folder, string? tokenizerFolder = null,
                            ImageProcessorConfig? imageProcessor = null, JsonObject? extraMeta = null,
                            long maxShardBytes = CheckpointTensors.DefaultMaxShardBytes)
    {
        Directory.CreateDirectory(folder);
        var dtype = model.ParameterDtype;
        var tensors = new Dictionary<string, Tensor>();
        using (var scope = NewDisposeScope())
        {
            foreach (var (name, tensor) in model.state_dict())
                tensors[name] = tensor.detach().cpu().contiguous();
            CheckpointTensors.Save(folder, tensors, maxShardBytes);
        }

        WriteFolderFiles(model.Config, dtype, model.parameters().Sum(p => p.numel()), folder, tokenizerFolder,
            imageProcessor, extraMeta);
    }

    /// <summary>Everything of a checkpoint folder except the weights: <c>config.json</c> (with
    /// <c>torch_dtype</c>), the <c>vision_tower/</c> configs, the tokenizer files and <c>meta.json</c>.</summary>
    public static void WriteFolderFiles(LlavaConfig modelConfig, ScalarType dtype, long parameterCount, string folder,
                                        string? tokenizerFolder = null, ImageProcessorConfig? imageProcessor = null,
                                        JsonObject? extraMeta = null)
    {
        var config = modelConfig with { MmVisionTower = VisionTowerFolderName };
        var configJson = config.ToJson();
        configJson["torch_dtype"] = DtypeName(dtype);
        AtomicFile.WriteText(Path.Combine(folder, "config.json"), configJson.ToJsonString(Indented));

        var towerFolder = Path.Combine(folder, VisionTowerFolderName);
        Directory.CreateDirectory(towerFolder);
        AtomicFile.WriteText(Path.Combine(towerFolder, "config.json"), configJson["vision_config"]!.ToJsonString(Indented));
        var processor = imageProcessor ?? ImageProcessorConfig.ClipVitLarge336 with
        {
            ShortestEdge = config.Vision.ImageSize, CropHeight = config.Vision.ImageSize, CropWidth = config.Vision.ImageSize,
        };
        AtomicFile.WriteText(Path.Combine(towerFolder, "preprocessor_config.json"), processor.ToJson());

        if (tokenizerFolder is not null && Path.GetFullPath(tokenizerFolder) != Path.GetFullPath(folder))
            foreach (var file in TokenizerFiles.Select(f => Path.Combine(tokenizerFolder, f)).Where(File.Exists))
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)), overwrite: true);

        var meta = new JsonObject
        {
            ["written_by"] = "LlavaMed.Workbench",
            ["code_version"] = CodeVersion.Current,
            ["written_utc"] = DateTime.UtcNow.ToString("O"),
            ["dtype"] = DtypeName(dtype),
            ["parameters"] = parameterCount,
        };
        foreach (var (key, value) in extraMeta ?? [])
            meta[key] = value?.DeepClone();
        AtomicFile.WriteText(Path.Combine(folder, MetaFileName), meta.ToJsonString(Indented));
    }

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The <c>torch_dtype</c> spelling of <paramref name="dtype"/>.</summary>
    public static string DtypeName(ScalarType dtype) => PlacementPlanner.Name(dtype);
}
