using LlavaMed.Checkpoints;
using LlavaMed.Inference;
using LlavaMed.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Checkpoints;

public sealed class RandomCheckpointTests : IDisposable
{
    private readonly string temporary = Directory.CreateTempSubdirectory("llavamed-random-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    [Fact]
    public void DemoShapedCheckpointLoadsStrictlyWithInitialisationValuesInItsDtype()
    {
        var folder = Path.Combine(temporary, "demo");
        var reports = new List<CheckpointWriteProgress>();
        RandomCheckpoint.Write(RandomCheckpoint.Presets["demo"], ScalarType.BFloat16, folder, seed: 3,
            new LlavaMed.Workbench.InlineProgress<CheckpointWriteProgress>(reports.Add));
        Assert.Equal(reports[^1].TotalBytes, reports[^1].BytesWritten);
        Assert.Contains("\"torch_dtype\": \"bfloat16\"", File.ReadAllText(Path.Combine(folder, "config.json")));
        using var pipeline = LlavaPipeline.Load(folder, new PipelineOptions { Load = new LoadOptions { Dtype = ScalarType.BFloat16 } });
        var parameters = pipeline.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.All(parameters.Values, p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        Assert.Equal(1f, parameters["model.norm.weight"].to(ScalarType.Float32).min().ToSingle());
        Assert.Equal(0f, parameters["model.mm_projector.0.bias"].abs().max().to(ScalarType.Float32).ToSingle());
        var std = parameters["model.layers.0.mlp.up_proj.weight"].to(ScalarType.Float32).std().ToDouble();
        Assert.InRange(std, 0.018, 0.022);
    }

    [Fact]
    public void VersionOneCheckpointKeepsTheTowerInItsOwnFolderAsReleased()
    {
        var folder = Path.Combine(temporary, "v10");
        var config = TinyModels.Shrink(RandomCheckpoint.Presets["llava-med-v1.0-7b"], vocabularySize: 516);
        RandomCheckpoint.Write(config, ScalarType.Float32, folder);
        using (var main = CheckpointTensors.Open(folder))
            Assert.DoesNotContain(main.Names, n => n.StartsWith(CheckpointLoader.TowerPrefix));
        using (var tower = CheckpointTensors.Open(Path.Combine(folder, CheckpointWriter.VisionTowerFolderName)))
            Assert.Contains("vision_model.embeddings.class_embedding", tower.Names);
        using var pipeline = LlavaPipeline.Load(folder);
        Assert.NotNull(pipeline.Model.ImagePatchTokens);
        Assert.Equal("simple", pipeline.Template.Name);
    }

}
