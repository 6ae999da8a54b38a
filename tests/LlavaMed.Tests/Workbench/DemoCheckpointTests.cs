using LlavaMed.Checkpoints;
using LlavaMed.Inference;
using LlavaMed.Workbench;

namespace LlavaMed.Tests.Workbench;

public sealed class DemoCheckpointTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-demo-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    [Fact]
    public void DemoCheckpointIsDeterministicAndLoadsAsAPipeline()
    {
        var first = DemoCheckpoint.EnsureCreated(Path.Combine(temporary, "a"));
        var second = DemoCheckpoint.EnsureCreated(Path.Combine(temporary, "b"));
        foreach (var file in new[] { "model.safetensors", "tokenizer.model", "config.json", "demo-chest-xray.png" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(first.ModelFolder, file)), File.ReadAllBytes(Path.Combine(second.ModelFolder, file)));

        using var pipeline = LlavaPipeline.Load(first.ModelFolder);
        var answer = pipeline.Ask(LlavaMed.Images.RgbImage.Load(first.ImagePath), "Is there a nodule?",
                                  pipeline.DefaultGenerationOptions(maxNewTokens: 5));
        Assert.False(string.IsNullOrEmpty(answer));
        Assert.Equal("mistral_instruct", pipeline.Template.Name);
    }
}
