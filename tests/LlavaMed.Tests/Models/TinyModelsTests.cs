using LlavaMed.Checkpoints;
using LlavaMed.Models;
using TorchSharp;

namespace LlavaMed.Tests.Models;

public sealed class TinyModelsTests
{
    [Fact]
    public void DemoHasTheSharedFixturesShapes()
    {
        var fixture = LlavaConfig.FromFolder(SharedFixtures.V15Tiny);
        var demo = TinyModels.Demo(fixture.VocabSize);
        Assert.Equal(
            (fixture.ModelType, fixture.VocabSize, fixture.HiddenSize, fixture.IntermediateSize, fixture.NumHiddenLayers,
             fixture.NumAttentionHeads, fixture.NumKeyValueHeads, fixture.MmHiddenSize, fixture.MmProjectorType),
            (demo.ModelType, demo.VocabSize, demo.HiddenSize, demo.IntermediateSize, demo.NumHiddenLayers,
             demo.NumAttentionHeads, demo.NumKeyValueHeads, demo.MmHiddenSize, demo.MmProjectorType));
        Assert.Equal(
            (fixture.Vision.HiddenSize, fixture.Vision.IntermediateSize, fixture.Vision.NumHiddenLayers,
             fixture.Vision.NumAttentionHeads, fixture.Vision.ImageSize, fixture.Vision.PatchSize, fixture.Vision.HiddenAct),
            (demo.Vision.HiddenSize, demo.Vision.IntermediateSize, demo.Vision.NumHiddenLayers,
             demo.Vision.NumAttentionHeads, demo.Vision.ImageSize, demo.Vision.PatchSize, demo.Vision.HiddenAct));
    }

    [Fact]
    public void ShrinkKeepsTheReleasedModelsKindAtTheDemoShapes()
    {
        var released = RandomCheckpoint.Presets["llava-med-v1.0-7b"];
        var tiny = TinyModels.Shrink(released, vocabularySize: 516);
        Assert.Equal((released.ModelType, released.MmProjectorType, released.MmUseImStartEnd, released.MmVisionTower, released.ImageAspectRatio),
                     (tiny.ModelType, tiny.MmProjectorType, tiny.MmUseImStartEnd, tiny.MmVisionTower, tiny.ImageAspectRatio));
        Assert.Equal((516, 64, 2, 56), (tiny.VocabSize, tiny.HiddenSize, tiny.NumHiddenLayers, tiny.Vision.ImageSize));
        Assert.Equal(released.Vision.HiddenAct, tiny.Vision.HiddenAct);
    }

    [Fact]
    public void CreateDrawsTheSameWeightsForASeedAndOthersForAnother()
    {
        using var first = TinyModels.Create(TinyModels.Config(), seed: 1);
        using var again = TinyModels.Create(TinyModels.Config(), seed: 1);
        using var other = TinyModels.Create(TinyModels.Config(), seed: 2);
        var weights = first.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var same = again.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var different = other.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.All(weights, p => Assert.True(p.Value.allclose(same[p.Key], rtol: 0, atol: 0), p.Key));
        const string projector = "model.mm_projector.0.weight";
        Assert.False(weights[projector].allclose(different[projector], rtol: 0, atol: 0));
        Assert.Equal(1f, weights["model.norm.weight"].min().ToSingle());
        using var images = TinyModels.Images(2);
        Assert.Equal(new long[] { 2, 3, TinyModels.ImageSize, TinyModels.ImageSize }, images.shape);
    }
}
