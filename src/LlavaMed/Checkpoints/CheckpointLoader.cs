using LlavaMed.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Checkpoints;

/// <summary>Where the CLIP weights come from. v1.5 checkpoints carry them under
/// <c>model.vision_tower.vision_tower.vision_model.*</c>; the official loader ignores those and loads the CLIP
/// folder that <c>mm_vision_tower</c> names (v1.0 checkpoints have no tower tensors at all).</summary>
public enum VisionTowerSource
{
    /// <summary>v1.5 models read the checkpoint's own tensors; v1.0 (<c>model_type llava</c>) the tower folder.</summary>
    Default,
    Checkpoint,
    TowerFolder,
}

/// <summary>How to load: parameter dtype (float32 or bfloat16), device, and where the vision tower comes from.</summary>
public sealed record LoadOptions
{
    public ScalarType Dtype { get; init; } = ScalarType.Float32;
    public Device? Device { get; init; }
    public VisionTowerSource VisionTower { get; init; } = VisionTowerSource.Default;
    /// <summary>A CLIP folder overriding the one <c>mm_vision_tower</c> names (for hub ids like
    /// <c>openai/clip-vit-large-patch14-336</c> downloaded elsewhere).</summary>
    public string? VisionTowerFolder { get; init; }
}

/// <summary>What a strict load found, for reporting: the tensors it read, and the checkpoint tensors it
/// deliberately skipped (with the reason).</summary>
public sealed record LoadReport(int TensorsLoaded, IReadOnlyList<string> Skipped, string? VisionTowerFolder);

/// <summary>Loads a Hugging Face LLaVA checkpoint folder strictly: every model tensor must be present with its
/// shape, and every checkpoint tensor must be used, except the vestigial ones listed in
/// <see cref="IsVestigial"/>.</summary>
public static class CheckpointLoader
{
    public const string TowerPrefix = "model.vision_tower.vision_tower.";

    public static LlavaForCausalLM Load(string modelFolder, LoadOptions? options = null) => Load(modelFolder, options, out _);

    public static LlavaForCausalLM Load(string modelFolder, LoadOptions? options, out LoadReport report)
    {
        options ??= new LoadOptions();
        if (!Directory.Exists(modelFolder))
            throw new CheckpointFormatException(modelFolder, "model folder not found");
        var config = LlavaConfig.FromFolder(modelFolder);
        var device = options.Device ?? CPU;
        var model = Construct(config, options.Dtype, device);
        try
        {
            var tensors = new Dictionary<string, (CheckpointTensors Source, string Name)>();
            var skipped = new List<string>();
            using var main = CheckpointTensors.Open(modelFolder);
            var useTowerFolder = options.VisionTower switch
            {
                VisionTowerSource.Checkpoint => false,
                VisionTowerSource.TowerFolder => true,
                _ => config.ModelType == "llava",
            };
            foreach (var name in main.Names)
            {
                if (IsVestigial(name)) skipped.Add($"{name} (vestigial buffer)");
                else if (useTowerFolder && name.StartsWith(TowerPrefix, StringComparison.Ordinal))
                    skipped.Add($"{name} (vision tower read from its own folder)");
                else tensors[name] = (main, name);
            }
            CheckpointTensors? tower = null;
            string? towerFolder = null;
            try
            {
                if (useTowerFolder)
                {
                    towerFolder = options.VisionTowerFolder ?? config.ResolveVisionTowerFolder(modelFolder)
                        ?? throw new CheckpointFormatException(modelFolder,
                            $"mm_vision_tower '{config.MmVisionTower}' is not a local folder; pass the CLIP folder explicitly");
                    tower = CheckpointTensors.Open(towerFolder);
                    foreach (var name in tower.Names)
                    {
                        if (!name.StartsWith("vision_model.", StringComparison.Ordinal) || IsVestigial(name))
                            skipped.Add($"{towerFolder}: {name} (not used by the vision tower)");
                        else tensors[TowerPrefix + name] = (tower, name);
                    }
                }
                var loaded = CopyInto(model, tensors, modelFolder);
                report = new LoadReport(loaded, skipped, towerFolder);
            }
            finally
            {
                tower?.Dispose();
            }
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.ImagePatchTokens = AddedTokens.ReadImagePatchTokens(modelFolder);
        if (config.UsesImagePatchTokens && model.ImagePatchTokens is null)
            throw new CheckpointFormatException(modelFolder,
                "a v1.0 model with mm_use_im_start_end needs added_tokens.json with <im_patch>, <im_start> and <im_end>");
        model.eval();
        return model;
    }

    /// <summary>Builds the model with uninitialised parameters allocated directly in the target dtype and device
    /// (the load overwrites every one: see <see cref="ParameterMaterialization"/>).</summary>
    public static LlavaForCausalLM Construct(LlavaConfig config, ScalarType dtype, Device device) =>
        ParameterMaterialization.Uninitialized(config, new ParameterPlacement(dtype, device));

    /// <summary>Tensors that released checkpoints carry but no model uses: transformers 4.28's persistent rotary
    /// <c>inv_freq</c> buffers and CLIP's <c>position_ids</c> buffer (both recomputable).</summary>
    public static bool IsVestigial(string name) =>
        name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)
        || name.EndsWith("embeddings.position_ids", StringComparison.Ordinal);

    static int CopyInto(LlavaForCausalLM model, Dictionary<string, (CheckpointTensors Source, string Name)> tensors, string folder)
    {
        var parameters = model.state_dict();
        var missing = parameters.Keys.Where(k => !tensors.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var unexpected = tensors.Keys.Where(k => !parameters.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new CheckpointFormatException(folder, StrictnessMessage(missing, unexpected));
        var mismatched = parameters
            .Where(p => !p.Value.shape.SequenceEqual(tensors[p.Key].Source.GetInfo(tensors[p.Key].Name).Shape))
            .Select(p => $"{p.Key}: checkpoint [{string.Join(",", tensors[p.Key].Source.GetInfo(tensors[p.Key].Name).Shape)}], "
                         + $"model [{string.Join(",", p.Value.shape)}]")
            .ToList();
        if (mismatched.Count > 0)
            throw new CheckpointFormatException(folder, "shape mismatch: " + string.Join("; ", mismatched));
        // In file and offset order, so a cold read streams each shard from start to end.
        var inReadOrder = parameters.OrderBy(p => tensors[p.Key].Source.PathOf(tensors[p.Key].Name), StringComparer.Ordinal)
            .ThenBy(p => tensors[p.Key].Source.GetInfo(tensors[p.Key].Name).DataStart);
        using var staging = new StagingBuffers();
        using (no_grad())
        {
            foreach (var (name, parameter) in inReadOrder)
            {
                var (source, sourceName) = tensors[name];
                source.ReadInto(sourceName, parameter, staging);
            }
        }
        return parameters.Count;
    }

    static string StrictnessMessage(List<string> missing, List<string> unexpected)
    {
        static string List(List<string> names) =>
            string.Join(", ", names.Take(20)) + (names.Count > 20 ? $", ... ({names.Count} in all)" : "");
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add($"missing tensors: {List(missing)}");
        if (unexpected.Count > 0) parts.Add($"unexpected tensors: {List(unexpected)}");
        return string.Join("; ", parts);
    }
}
