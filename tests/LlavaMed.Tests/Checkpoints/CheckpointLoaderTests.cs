using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;
using LlavaMed.Models;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Checkpoints;

public sealed class CheckpointLoaderTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-ckpt-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    /// <summary>Copies a fixture checkpoint into a writable folder so a test can break it.</summary>
    string CopyOf(string fixture)
    {
        var target = Path.Combine(temporary, Path.GetFileName(fixture));
        foreach (var file in Directory.EnumerateFiles(fixture, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(fixture, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }
        return target;
    }

    static void RewriteTensors(string folder, Action<Dictionary<string, Tensor>> change)
    {
        var path = Path.Combine(folder, "model.safetensors");
        Dictionary<string, Tensor> tensors;
        using (var file = SafetensorsFile.Open(path))
            tensors = file.Names.ToDictionary(n => n, n => file.ReadTensor(n));
        change(tensors);
        SafetensorsFile.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    static void RewriteConfig(string folder, Action<JsonObject> change)
    {
        var path = Path.Combine(folder, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        change(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    [Fact]
    public void SavedCheckpointsLoadBackBitIdenticalInOneOrSeveralShards()
    {
        using var scope = NewDisposeScope();
        using var model = CheckpointLoader.Load(SharedFixtures.V15Tiny);
        var single = Path.Combine(temporary, "single");
        var sharded = Path.Combine(temporary, "sharded");
        CheckpointWriter.Save(model, single, extraMeta: new JsonObject { ["stage"] = "test" });
        CheckpointWriter.Save(model, sharded, maxShardBytes: 200_000);
        Assert.True(File.Exists(Path.Combine(sharded, CheckpointTensors.IndexFileName)));
        Assert.True(Directory.GetFiles(sharded, "model-*-of-*.safetensors").Length > 1);
        Assert.Equal("test", JsonNode.Parse(File.ReadAllText(Path.Combine(single, "meta.json")))!["stage"]!.GetValue<string>());
        var original = model.state_dict();
        foreach (var folder in new[] { single, sharded })
        {
            using var reloaded = CheckpointLoader.Load(folder);
            foreach (var (name, value) in reloaded.state_dict())
                Assert.True(value.equal(original[name]).all().item<bool>(), $"{folder}: {name} differs");
        }
    }

    [Fact]
    public void LoadsIntoBFloat16()
    {
        using var scope = NewDisposeScope();
        using var model = CheckpointLoader.Load(SharedFixtures.V15Tiny, new LoadOptions { Dtype = ScalarType.BFloat16 });
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        using var reference = CheckpointLoader.Load(SharedFixtures.V15Tiny);
        var name = "model.layers.0.mlp.up_proj.weight";
        Assert.True(model.state_dict()[name].equal(reference.state_dict()[name].to(ScalarType.BFloat16)).all().item<bool>());
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        var folder = CopyOf(SharedFixtures.V15Tiny);
        RewriteTensors(folder, t => t.Remove("model.layers.1.mlp.down_proj.weight"));
        var error = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(folder));
        Assert.Contains("missing tensors: model.layers.1.mlp.down_proj.weight", error.Message);
    }

    [Fact]
    public void UnexpectedTensorIsNamed()
    {
        var folder = CopyOf(SharedFixtures.V15Tiny);
        RewriteTensors(folder, t => t["model.layers.0.self_attn.q_proj.bias"] = zeros(64));
        var error = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(folder));
        Assert.Contains("unexpected tensors: model.layers.0.self_attn.q_proj.bias", error.Message);
    }

    [Fact]
    public void ShapeMismatchIsNamedWithBothShapes()
    {
        var folder = CopyOf(SharedFixtures.V15Tiny);
        RewriteTensors(folder, t => t["model.norm.weight"] = ones(63));
        var error = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(folder));
        Assert.Contains("model.norm.weight: checkpoint [63], model [64]", error.Message);
    }

    [Fact]
    public void MissingConfigKeyAndUnknownProjectorAreClearErrors()
    {
        var folder = CopyOf(SharedFixtures.V15Tiny);
        RewriteConfig(folder, c => c.Remove("hidden_size"));
        Assert.Contains("missing required key 'hidden_size'",
                        Assert.Throws<ModelConfigException>(() => CheckpointLoader.Load(folder)).Message);
        RewriteConfig(folder, c => { c["hidden_size"] = 64; c["mm_projector_type"] = "qformer"; });
        Assert.Contains("unknown mm_projector_type 'qformer'",
                        Assert.Throws<ModelConfigException>(() => CheckpointLoader.Load(folder)).Message);
        RewriteConfig(folder, c => { c["mm_projector_type"] = "mlp2x_gelu"; c["model_type"] = "bert"; });
        Assert.Contains("model_type 'bert'", Assert.Throws<ModelConfigException>(() => CheckpointLoader.Load(folder)).Message);
    }

    [Fact]
    public void TruncatedWeightsFileIsAClearError()
    {
        var folder = CopyOf(SharedFixtures.V15Tiny);
        var path = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(folder));
        Assert.Contains("model.safetensors", error.Message);
    }

    [Fact]
    public void VisionTowerSourceIsChosenExplicitly()
    {
        // v1.0 keeps CLIP in its own folder; asking for the checkpoint's copy finds none and names what is missing.
        var v10 = Assert.Throws<CheckpointFormatException>(() =>
            CheckpointLoader.Load(SharedFixtures.V10Tiny, new LoadOptions { VisionTower = VisionTowerSource.Checkpoint }));
        Assert.Contains("missing tensors: " + CheckpointLoader.TowerPrefix + "vision_model.", v10.Message);

        // The v1.5 fixture's tower folder holds configs only: loading the tower from it fails clearly.
        var noWeights = Assert.Throws<FileNotFoundException>(() =>
            CheckpointLoader.Load(SharedFixtures.V15Tiny, new LoadOptions { VisionTower = VisionTowerSource.TowerFolder }));
        Assert.Contains("vision_tower", noWeights.Message);

        // A v1.5 checkpoint loads its tower from a separate CLIP folder when told to, ignoring its own copy.
        using var scope = NewDisposeScope();
        using var model = CheckpointLoader.Load(SharedFixtures.V15Tiny);
        var clipFolder = Path.Combine(temporary, "clip");
        Directory.CreateDirectory(clipFolder);
        var clip = model.Model.VisionTower.Clip.state_dict().ToDictionary(p => p.Key, p => p.Value.mul(2));
        SafetensorsFile.Save(Path.Combine(clipFolder, "model.safetensors"), clip);
        using var fromFolder = CheckpointLoader.Load(SharedFixtures.V15Tiny,
            new LoadOptions { VisionTower = VisionTowerSource.TowerFolder, VisionTowerFolder = clipFolder }, out var report);
        Assert.Equal(clipFolder, report.VisionTowerFolder);
        Assert.Contains(report.Skipped, s => s.Contains("vision tower read from its own folder"));
        var name = "vision_model.pre_layrnorm.weight";
        Assert.True(fromFolder.Model.VisionTower.Clip.state_dict()[name].equal(clip[name]).all().item<bool>());
    }
}
