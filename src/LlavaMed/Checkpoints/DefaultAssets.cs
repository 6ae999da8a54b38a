using LlavaMed.Workbench;

namespace LlavaMed.Checkpoints;

/// <summary>The model, tokenizer and image the CLI and notebooks use when the user names none: the shared
/// reference fixtures when present (../shared), else a demo checkpoint the workbench builds itself in the
/// released layout, cached under <see cref="WorkbenchPaths.CacheRoot"/>.</summary>
public sealed record DefaultAssets(string ModelFolder, string TokenizerFolder, string ImagePath, string Description)
{
    public static DefaultAssets Resolve(Action<string>? progress = null)
    {
        var shared = WorkbenchPaths.SharedRoot();
        var model = Path.Combine(shared, "fixtures", "llava-med-v1.5-tiny");
        var tokenizer = Path.Combine(shared, "fixtures", "tokenizer");
        var image = Path.Combine(shared, "fixtures", "image-preprocess", "img_300x200.png");
        if (File.Exists(Path.Combine(model, "model.safetensors")) && File.Exists(Path.Combine(tokenizer, "tokenizer.model"))
            && File.Exists(image))
            return new DefaultAssets(model, tokenizer, image, "the shared LLaVA-Med v1.5 tiny reference fixture (random weights)");
        var demo = DemoCheckpoint.EnsureCreated(Path.Combine(WorkbenchPaths.CacheRoot(), "demo-checkpoint"), progress);
        return new DefaultAssets(demo.ModelFolder, demo.ModelFolder, demo.ImagePath,
                                 "the workbench's own demo checkpoint (random weights, released layout)");
    }
}
