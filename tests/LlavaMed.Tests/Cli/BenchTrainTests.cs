using LlavaMed.Models;
using TorchSharp;
using System.Text.Json.Nodes;

namespace LlavaMed.Tests.Cli;

public sealed class BenchTrainTests
{
    /// <summary>A tiny LLaVA config.json under another file name (as ../shared/bench's peer config is).</summary>
    static string TinyConfigFile()
    {
        var folder = Directory.CreateTempSubdirectory("bench-train-").FullName;
        var path = Path.Combine(folder, "tiny.config.json");
        File.WriteAllText(path, new JsonObject
        {
            ["model_type"] = "llava_mistral", ["vocab_size"] = 64, ["hidden_size"] = 16, ["intermediate_size"] = 32,
            ["num_hidden_layers"] = 1, ["num_attention_heads"] = 2, ["num_key_value_heads"] = 1, ["mm_hidden_size"] = 8,
            ["mm_projector_type"] = "mlp2x_gelu", ["mm_vision_select_layer"] = -1, ["mm_vision_tower"] = "tiny",
            ["vision_config"] = new JsonObject
            {
                ["hidden_size"] = 8, ["intermediate_size"] = 16, ["num_hidden_layers"] = 1, ["num_attention_heads"] = 2,
                ["image_size"] = 28, ["patch_size"] = 14,
            },
        }.ToJsonString());
        return path;
    }

    [Fact]
    public void PrintsTheMedianStepTokensPerSecondAndTheMatmulPeakMeasuredInTheSameRun()
    {
        var (exitCode, output, error) = CliRunner.Run("bench", "train", "--config", TinyConfigFile(), "--batch-size", "2",
                                                      "--text-tokens", "5", "--dtype", "bfloat16", "--threads", "1", "--steps", "3", "--warmup", "1");
        Assert.True(exitCode == 0, error);
        Assert.Matches(@"median \d+\.\d ms/step", output);
        Assert.Matches(@"\d+ tokens/s", output);
        // Where this CPU has no bf16 instructions the model's products, and so the peak, are computed in float32, and it says so.
        Assert.Matches(@"MFU \d+ ?% of the bfloat16 matmul peak measured now( \(computed in float32: this CPU has no bfloat16 instructions\))? \(\d+\.\d GFLOP/s", output);
        Assert.Equal(ReducedPrecisionProducts.WidensOnThisCpu(torch.ScalarType.BFloat16), output.Contains("computed in float32", StringComparison.Ordinal));
        Assert.Contains("(18 decoder positions per step)", output); // 2 rows x (4 patches + 5 text tokens)
    }

    [Fact]
    public void BothDtypesStepInTurnAndPrintTheirRatio()
    {
        var (exitCode, output, error) = CliRunner.Run("bench", "train", "--config", TinyConfigFile(), "--batch-size", "2",
                                                      "--text-tokens", "5", "--dtype", "float32,bfloat16", "--threads", "1", "--steps", "3", "--warmup", "1");
        Assert.True(exitCode == 0, error);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(output, @"median \d+\.\d ms/step").Count);
        Assert.Matches(@"MFU \d+ ?% of the float32 matmul peak", output);
        Assert.Matches(@"MFU \d+ ?% of the bfloat16 matmul peak", output);
        Assert.Matches(@"bfloat16 vs float32, one step of each in turn: \d+\.\d\dx the speed \(\d+\.\d against \d+\.\d ms/step\)", output);

        var (rejected, _, message) = CliRunner.Run("bench", "train", "--config", TinyConfigFile(), "--dtype", "float32,float16");
        Assert.NotEqual(0, rejected);
        Assert.Contains("--dtype takes float32, bfloat16 or both", message);
    }

    [Fact]
    public void RejectsAStepWithoutASupervisedToken()
    {
        var (exitCode, _, error) = CliRunner.Run("bench", "train", "--config", TinyConfigFile(), "--text-tokens", "1");
        Assert.Equal(1, exitCode);
        Assert.Contains("--text-tokens must be at least 2", error);
    }
}
