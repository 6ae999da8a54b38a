using LlavaMed.Checkpoints;
using LlavaMed.Inference;
using LlavaMed.Models;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

/// <summary>Reproduces the reference Python outputs stored in ../shared/fixtures/llava-med-v1.{5,0}-tiny/case.safetensors
/// (tolerances from the fixtures' README: 1e-5 up to inputs_embeds, 1e-4 for decoder outputs, tokens exact).</summary>
public sealed class ParityTests
{
    const double FeatureTolerance = 1e-5, DecoderTolerance = 1e-4;

    static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    static double MaxAbsDiff(Tensor actual, Tensor expected, string what, double tolerance)
    {
        Assert.Equal(expected.shape, actual.shape);
        var diff = (actual.to(float64) - expected.to(float64)).abs().max().item<double>();
        Log($"{what}: max |diff| = {diff:E2} (tolerance {tolerance:E0})");
        Assert.True(diff <= tolerance, $"{what}: max |diff| {diff:E3} exceeds {tolerance:E0}");
        return diff;
    }

    static Dictionary<string, Tensor> Case(string folder)
    {
        using var file = SafetensorsFile.Open(Path.Combine(folder, "case.safetensors"));
        return file.Names.ToDictionary(name => name, name => file.ReadTensor(name));
    }

    [Theory]
    [InlineData("llava-med-v1.5-tiny")]
    [InlineData("llava-med-v1.0-tiny")]
    public void ForwardMatchesReference(string fixture)
    {
        var folder = SharedFixtures.Require("fixtures", fixture);
        using var scope = NewDisposeScope();
        var expected = Case(folder);
        using var model = CheckpointLoader.Load(folder, null, out var report);
        Log($"{fixture}: {report.TensorsLoaded} tensors loaded; skipped: {string.Join("; ", report.Skipped)}");
        var pixels = expected["pixel_values"];
        var ids = expected["input_ids"][0].data<long>().ToArray();
        using var _ = no_grad();

        var visionStates = model.Model.VisionTower.HiddenStates(pixels);
        for (int i = 0; i < visionStates.Count; i++)
            MaxAbsDiff(visionStates[i], expected["vision_hidden_states"][i], $"{fixture} vision_hidden_states[{i}]", FeatureTolerance);
        MaxAbsDiff(model.Model.VisionTower.SelectFeatures(visionStates), expected["vision_selected_features"],
                   $"{fixture} vision_selected_features", FeatureTolerance);
        MaxAbsDiff(model.EncodeImages(pixels), expected["projected_image_features"], $"{fixture} projected_image_features", FeatureTolerance);

        using var inputs = model.PrepareInputs([ids], pixels);
        MaxAbsDiff(inputs.InputsEmbeds, expected["inputs_embeds"], $"{fixture} inputs_embeds", FeatureTolerance);
        if (expected.TryGetValue("attention_mask", out var mask))
            Assert.Equal(mask.data<long>().ToArray(), inputs.AttentionMask.data<long>().ToArray());
        if (expected.TryGetValue("position_ids", out var positions))
            Assert.Equal(positions.data<long>().ToArray(), inputs.PositionIds.data<long>().ToArray());

        var output = model.Forward(inputs, outputHiddenStates: true);
        for (int i = 0; i < output.HiddenStates!.Count; i++)
            MaxAbsDiff(output.HiddenStates[i], expected["decoder_hidden_states"][i], $"{fixture} decoder_hidden_states[{i}]", DecoderTolerance);
        MaxAbsDiff(output.Logits, expected["logits"], $"{fixture} logits", DecoderTolerance);
    }

    [Theory]
    [InlineData("llava-med-v1.5-tiny", true)]
    [InlineData("llava-med-v1.5-tiny", false)]
    [InlineData("llava-med-v1.0-tiny", true)]
    [InlineData("llava-med-v1.0-tiny", false)]
    public void GreedyDecodingMatchesReference(string fixture, bool useCache)
    {
        var folder = SharedFixtures.Require("fixtures", fixture);
        using var scope = NewDisposeScope();
        var expected = Case(folder);
        using var model = CheckpointLoader.Load(folder);
        var ids = expected["input_ids"][0].data<long>().ToArray();
        var expectedTokens = expected["greedy_tokens"][0].data<long>().ToArray();
        var options = new GenerationOptions { MaxNewTokens = expectedTokens.Length, UseCache = useCache, KeepStepLogits = true,
                                              StopTokenIds = [] };
        var results = new List<GeneratedSequence>();
        var steps = new ResponseGenerator(model).Stream([ids], expected["pixel_values"], options, results).ToList();
        var tokens = steps.Select(s => s.Tokens[0]!.Value).ToArray();
        Log($"{fixture} cache={useCache}: tokens {string.Join(",", tokens)}");
        Assert.Equal(expectedTokens, tokens);
        var stepLogits = stack(steps.Select(s => tensor(s.Logits![0])).ToArray()).unsqueeze(0);
        MaxAbsDiff(stepLogits, expected["greedy_step_logits"], $"{fixture} greedy_step_logits (cache={useCache})", DecoderTolerance);
    }
}
