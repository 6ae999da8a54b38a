using System.CommandLine;
using LlavaMed.Checkpoints;
using LlavaMed.Cli;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Cli;

public sealed class CliTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-cli-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    [Fact]
    public void AskStreamsAnAnswerFromTheFixtureCheckpoint()
    {
        var image = Path.Combine(SharedFixtures.ImagePreprocess, "img_300x200.png");
        var (code, output, error) = CliRunner.Run("ask", "--model", SharedFixtures.V15Tiny, "--tokenizer", SharedFixtures.Tokenizer,
                                        "--image", image, "--question", "Is there a nodule?", "--max-new-tokens", "8", "--show-prompt");
        Assert.Equal(0, code);
        Assert.StartsWith("answer: ", output);
        Assert.Contains("[INST] <image>\nIs there a nodule? [/INST]", error);
    }

    [Fact]
    public void RandomCheckpointAnswersInTheAskedDtypeAndSaysWhatItChose()
    {
        var folder = Path.Combine(temporary, "random-demo");
        var (made, written, _) = CliRunner.Run("checkpoint", "random", "--like", "demo", "--dtype", "bfloat16", "--out", folder);
        Assert.Equal(0, made);
        Assert.Contains("wrote a random demo checkpoint (bfloat16)", written);
        var image = Path.Combine(SharedFixtures.ImagePreprocess, "img_300x200.png");
        var (code, output, error) = CliRunner.Run("ask", "--model", folder, "--image", image, "--max-new-tokens", "2", "--dtype", "float32");
        Assert.Equal(0, code);
        Assert.StartsWith("answer: ", output);
        Assert.Contains("dtype: float32 on cpu (as asked; needs about 1.1 GB)", error);
        var (cudaCode, _, cudaError) = CliRunner.Run("ask", "--model", folder, "--image", image, "--device", "cuda");
        Assert.Equal(1, cudaCode);
        Assert.Single(cudaError.Trim().Split('\n'));
        Assert.Contains("torch.cuda.is_available() is false", cudaError);
    }

    [Fact]
    public void ErrorsAreOneClearLineWithoutAStackTrace()
    {
        var (code, _, error) = CliRunner.Run("ask", "--model", Path.Combine(temporary, "missing"), "--image", "x.png");
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.DoesNotContain(" at ", error);
    }

    [Fact]
    public void InspectForwardWritesTheReferenceTensorNames()
    {
        var folder = SharedFixtures.V15Tiny;
        var inputs = Path.Combine(temporary, "inputs.safetensors");
        var output = Path.Combine(temporary, "out.safetensors");
        using var scope = NewDisposeScope();
        Dictionary<string, Tensor> expected;
        using (var file = SafetensorsFile.Open(Path.Combine(folder, "case.safetensors")))
            expected = file.Names.ToDictionary(n => n, n => file.ReadTensor(n));
        SafetensorsFile.Save(inputs, new Dictionary<string, Tensor>
        {
            ["input_ids"] = expected["input_ids"], ["pixel_values"] = expected["pixel_values"],
        });
        var (code, _, _) = CliRunner.Run("inspect", "forward", "--model", folder, "--inputs", inputs, "--output", output, "--greedy", "10");
        Assert.Equal(0, code);
        using var written = SafetensorsFile.Open(output);
        foreach (var name in new[] { "vision_selected_features", "projected_image_features", "inputs_embeds", "logits" })
        {
            var diff = (written.ReadTensor(name) - expected[name]).abs().max().item<float>();
            TestContext.Current.TestOutputHelper?.WriteLine($"{name}: max |diff| = {diff:E2}");
            Assert.True(diff <= 1e-4, $"{name}: {diff}");
        }
        Assert.Equal(expected["greedy_tokens"].data<long>().ToArray(), written.ReadTensor("greedy_tokens").data<long>().ToArray());
    }
}
