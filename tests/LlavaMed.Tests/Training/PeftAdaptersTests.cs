using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;
using LlavaMed.Models;
using LlavaMed.Training;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Training;

public sealed class PeftAdaptersTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("llava-peft-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static readonly long[] Row = [1, 3, MultimodalSplice.ImageTokenIndex, 5, 10, 11, 4, 20, 21, 2];

    static Tensor Logits(LlavaForCausalLM model)
    {
        using var inputs = model.PrepareInputs([Row], TinyModels.Images(1));
        using var _ = no_grad();
        return model.Forward(inputs).Logits;
    }

    /// <summary>A trained-looking adapter set (random B) and projector, saved in PEFT's layout and loaded onto a fresh
    /// base: the names are PEFT's, the hooked model computes exactly what the original did, and merging gives the
    /// same logits within float32 rounding (1e-5).</summary>
    [Fact]
    public void SavedAdaptersLoadOntoTheBaseAndEqualTheMergedModel()
    {
        using var scope = NewDisposeScope();
        var options = new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0, TargetModules: ["q_proj", "v_proj", "down_proj"]);
        using var trained = TinyModels.Create(TinyModels.Config());
        using var lora = LoraAdapters.Attach(trained, options, seed: 3);
        using (no_grad())
        using (var generator = new Generator(9))
        {
            foreach (var b in lora.StateDict().Where(p => p.Key.Contains("lora_B")).Select(p => p.Value)) b.normal_(0, 0.1, generator);
            trained.named_parameters().First(p => p.name == "model.mm_projector.0.weight").parameter.normal_(0, 0.1, generator);
        }
        var expected = Logits(trained);
        PeftAdapters.Save(folder, lora, options, trained, ["model.mm_projector.0.weight"], "base-model");

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, PeftAdapters.ConfigFile)))!;
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal(4, config["r"]!.GetValue<int>());
        Assert.Equal(8, config["lora_alpha"]!.GetValue<double>());
        using (var file = SafetensorsFile.Open(Path.Combine(folder, PeftAdapters.WeightsFile)))
        {
            Assert.Equal(2 * 3 * 2, file.Names.Count); // 2 layers x 3 targets x (A, B)
            Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", file.Names);
            Assert.Contains("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", file.Names);
            Assert.Equal([4L, 64], file.GetInfo("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight").Shape);
        }
        using (var nonLora = SafetensorsFile.Open(Path.Combine(folder, PeftAdapters.NonLoraFile)))
            Assert.Equal(["base_model.model.model.mm_projector.0.weight"], nonLora.Names);

        using var fresh = TinyModels.Create(TinyModels.Config());
        Assert.False(Logits(fresh).allclose(expected, rtol: 1e-3, atol: 1e-3));
        using (var loaded = PeftAdapters.Attach(fresh, folder))
        {
            Assert.True(Logits(fresh).equal(expected).all().item<bool>(), "hooked adapters compute the original");
            loaded.Merge();
        }
        var merged = Logits(fresh);
        var difference = (merged - expected).abs().max().item<float>();
        TestContext.Current.TestOutputHelper?.WriteLine($"merged vs adapters: max |logit difference| {difference:E2}");
        Assert.True(difference < 1e-5, $"merged logits differ by {difference}");
    }

    [Fact]
    public void AnAdapterForALayerTheModelLacksIsAnErrorNamingIt()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Config());
        File.WriteAllText(Path.Combine(folder, PeftAdapters.ConfigFile), """{"peft_type": "LORA", "r": 2, "lora_alpha": 4}""");
        SafetensorsFile.Save(Path.Combine(folder, PeftAdapters.WeightsFile), new Dictionary<string, Tensor>
        {
            ["base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight"] = zeros(2, 32),
            ["base_model.model.model.layers.7.self_attn.q_proj.lora_B.weight"] = zeros(32, 2),
        });
        var error = Assert.Throws<ArgumentException>(() => PeftAdapters.Attach(model, folder));
        Assert.Contains("model.layers.7.self_attn.q_proj", error.Message);

        File.WriteAllText(Path.Combine(folder, PeftAdapters.ConfigFile), """{"peft_type": "IA3"}""");
        Assert.Contains("IA3", Assert.Throws<InvalidDataException>(() => PeftAdapters.Attach(model, folder)).Message);
    }
}
