using LlavaMed.Models;
using LlavaMed.Training;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Training;

public sealed class MemoryPlanTests
{
    static readonly LlavaConfig SevenB = new(); // defaults = microsoft/llava-med-v1.5-mistral-7b

    [Fact]
    public void FullFineTuningInFloat32CountsWeightsGradientsAndAdamMomentsExactly()
    {
        var plan = MemoryPlan.Estimate(SevenB, new MemoryPlanSettings(MaxLength: 256));
        Assert.Equal(7_566_219_264, plan.Parameters);
        long trained = 7_566_219_264 - 303_507_456; // everything but the frozen vision tower
        Assert.Equal(trained, plan.TrainedParameters);
        Assert.Equal(7_566_219_264L * 4, plan.WeightBytes);
        Assert.Equal(trained * 4, plan.GradientBytes);
        Assert.Equal(trained * 8, plan.OptimizerBytes);
        Assert.Equal(256 + 576 - 1, plan.SequenceTokens); // the placeholder becomes 576 patch features
        // 16 bytes per trained parameter (weight, gradient, two moments): ~109 GiB before activations.
        Assert.False(plan.Fits(80), plan.ToString());
        Assert.True(plan.Fits(141), plan.ToString());
    }

    [Fact]
    public void LoraRank16OnEveryLinearLayerTrainsPeftsParameterCountInFloat32OnABfloat16Base()
    {
        var settings = new MemoryPlanSettings(Dtype: ScalarType.BFloat16, Lora: new LoraOptions(16), MaxLength: 256, GradientCheckpointing: true);
        var plan = MemoryPlan.Estimate(SevenB, settings);
        const long adapters = 41_943_040, projector = 20_979_712; // PEFT's count for Mistral-7B, r 16, all linear layers
        Assert.Equal(adapters + projector, plan.TrainedParameters);
        Assert.Equal(7_566_219_264L * 2 + adapters * 4, plan.WeightBytes);
        Assert.Equal(projector * 2 + adapters * 4, plan.GradientBytes);
        Assert.Equal((adapters + projector) * 8 + projector * 4, plan.OptimizerBytes); // + the projector's float32 master copy
        Assert.True(plan.Fits(24), plan.ToString());
        TestContext.Current.TestOutputHelper?.WriteLine(plan.ToString());
    }

    [Fact]
    public void CheckpointingShrinksActivationsToLayerInputsPlusOneLayer()
    {
        var settings = new MemoryPlanSettings(Dtype: ScalarType.BFloat16, MaxLength: 2048, BatchSize: 4);
        var plain = MemoryPlan.Estimate(SevenB, settings);
        var checkpointed = MemoryPlan.Estimate(SevenB, settings with { GradientCheckpointing = true });
        Assert.Equal(plain.WeightBytes + plain.GradientBytes + plain.OptimizerBytes,
                     checkpointed.WeightBytes + checkpointed.GradientBytes + checkpointed.OptimizerBytes);
        Assert.True(checkpointed.ActivationBytes * 4 < plain.ActivationBytes, $"{checkpointed.ActivationBytes} vs {plain.ActivationBytes}");
    }

    [Fact]
    public void ALoraTargetThatMatchesNoLayerIsAnError() =>
        Assert.Contains("qkv_proj", Assert.Throws<ArgumentException>(() =>
            MemoryPlan.Estimate(SevenB, new MemoryPlanSettings(Lora: new LoraOptions(8, TargetModules: ["qkv_proj"])))).Message);
}

public sealed class PlanCommandTests
{
    [Fact]
    public void PlanPrintsThePartsAndTheSizesTheRunFits()
    {
        var (exitCode, output, _) = CliRunner.Run("plan", "--dtype", "bfloat16", "--lora-rank", "16", "--gradient-checkpointing", "--max-length", "256");
        Assert.Equal(0, exitCode);
        Assert.Contains("optimiser state", output);
        Assert.Contains("24 GiB yes", output);
        var (badExit, _, error) = CliRunner.Run("plan", "--lora-rank", "16", "--lora-targets", "c_attn");
        Assert.Equal(1, badExit);
        Assert.Contains("c_attn", error);
    }
}
