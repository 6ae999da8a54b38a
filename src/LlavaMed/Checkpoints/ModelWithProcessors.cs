using LlavaMed.Images;
using LlavaMed.Models;
using LlavaMed.Text;

namespace LlavaMed.Checkpoints;

/// <summary>A model with the tokenizer and image processor that read its inputs, and the folder its tokenizer files
/// come from (saved beside the weights): what training and answering both start from, loaded from a checkpoint
/// folder or built in memory. Disposing it disposes the model.</summary>
public sealed class ModelWithProcessors(LlavaForCausalLM model, LlavaTokenizer tokenizer, ClipImageProcessor imageProcessor, string tokenizerFolder)
    : IDisposable
{
    public LlavaForCausalLM Model { get; } = model;
    public LlavaTokenizer Tokenizer { get; } = tokenizer;
    public ClipImageProcessor ImageProcessor { get; } = imageProcessor;
    public string TokenizerFolder { get; } = tokenizerFolder;

    /// <summary>Loads <paramref name="modelFolder"/> (strictly: <see cref="CheckpointLoader.Load"/>) with the tokenizer of
    /// <paramref name="tokenizerFolder"/> (default: the model folder) and the image processor of its tower folder.</summary>
    public static ModelWithProcessors Load(string modelFolder, string? tokenizerFolder = null, LoadOptions? load = null)
    {
        if (!Directory.Exists(modelFolder)) throw new DirectoryNotFoundException($"model folder not found: {modelFolder}");
        tokenizerFolder ??= modelFolder;
        if (!File.Exists(Path.Combine(tokenizerFolder, "tokenizer.model")))
            throw new FileNotFoundException($"no tokenizer.model in {tokenizerFolder}; pass the tokenizer folder explicitly");
        var model = CheckpointLoader.Load(modelFolder, load ?? new LoadOptions());
        try
        {
            var config = model.Config;
            // transformers 4.28, which LLaVA-Med v1.0 pinned, stripped whitespace around added tokens.
            var tokenizer = LlavaTokenizer.FromFolder(tokenizerFolder,
                config.ModelType == "llava" ? LlavaTokenizerOptions.LlavaMedV10 : LlavaTokenizerOptions.Default);
            return new ModelWithProcessors(model, tokenizer, ImageProcessorFor(config, modelFolder), tokenizerFolder);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The tower folder's preprocessor_config.json when present, else CLIP's settings at the tower's
    /// image size; padding to a square when the config says <c>image_aspect_ratio: pad</c>.</summary>
    public static ClipImageProcessor ImageProcessorFor(LlavaConfig config, string modelFolder)
    {
        var towerFolder = config.ResolveVisionTowerFolder(modelFolder);
        var processorFile = towerFolder is null ? null : Path.Combine(towerFolder, "preprocessor_config.json");
        var processorConfig = processorFile is not null && File.Exists(processorFile)
            ? ImageProcessorConfig.FromFile(processorFile)
            : ImageProcessorConfig.ClipVitLarge336 with
            {
                ShortestEdge = config.Vision.ImageSize, CropHeight = config.Vision.ImageSize, CropWidth = config.Vision.ImageSize,
            };
        return new ClipImageProcessor(processorConfig, ImageAspectModes.FromConfigValue(config.ImageAspectRatio));
    }

    public void Dispose() => Model.Dispose();
}
