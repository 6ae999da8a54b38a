using LlavaMed.Models;
using LlavaMed.Training;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Training;

public sealed class MemoryPlanTests
{
    static readonly LlavaConfig SevenB = LlavaConfig.LlavaMedV15Mistral7B;

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
    public void PerRankMemoryCountsTheReducersBucketOrZeroOnesShardExactly()
    {
        // The tiny model trains its language model (embeddings 96 x 32, two layers of q 32x32, k and v 16x32, o 32x32,
        // gate/up/down 64x32 and two norms, final norm, head 96 x 32) and its projector (16->32->32 with biases).
        const long trained = 96 * 32 + 2 * (1024 + 512 + 512 + 1024 + 3 * 2048 + 2 * 32) + 32 + 96 * 32 + (16 * 32 + 32) + (32 * 32 + 32);
        var config = TinyModels.Config();
        var settings = new MemoryPlanSettings(MaxLength: 64);
        var single = MemoryPlan.Estimate(config, settings);
        Assert.Equal(trained, single.TrainedParameters);
        Assert.Equal(0, single.CommunicationBytes);

        var replicated = MemoryPlan.PerRank(config, settings, 8);
        var sharded = MemoryPlan.PerRank(config, settings with { ShardOptimizerState = true }, 8);
        Assert.Equal(8, replicated.Count);
        // Data-parallel without ZeRO: everything replicated, plus one flat float32 bucket (all 26,336 fit in 25 MiB).
        Assert.Equal(trained * 8, replicated[7].OptimizerBytes);
        Assert.Equal(trained * 4, replicated[7].CommunicationBytes);
        Assert.Equal(single.WeightBytes + single.GradientBytes, replicated[7].WeightBytes + replicated[7].GradientBytes);
        // ZeRO-1 on 8 ranks: ceil(26,336 / 8) = 3,292 elements of float32 master weight and two moments per rank; the
        // step's flat gradient (then gathered weights), padded to 8 x 3,292, and the rank's reduced shard.
        Assert.Equal(26_336, trained);
        Assert.Equal(3_292L * 12, sharded[7].OptimizerBytes);
        Assert.Equal(3_292L * 8 * 4 + 3_292 * 4, sharded[7].CommunicationBytes);
        Assert.Equal(single.WeightBytes, sharded[7].WeightBytes);
        Assert.Equal(single.GradientBytes, sharded[7].GradientBytes);
        Assert.Equal(single.ActivationBytes, sharded[7].ActivationBytes);
        // The peak counts the larger of activations and the step's buffers (they do not live at the same time).
        Assert.Equal(sharded[7].WeightBytes + sharded[7].GradientBytes + sharded[7].OptimizerBytes + MemoryPlan.RuntimeOverheadBytes
                     + Math.Max(sharded[7].ActivationBytes, sharded[7].CommunicationBytes), sharded[7].TotalBytes);
        // bfloat16 gradients are copied to float32 before they are flattened: twice the flat bytes.
        var bf16 = MemoryPlan.PerRank(config, settings with { Dtype = ScalarType.BFloat16 }, 2);
        Assert.Equal(trained * 8, bf16[1].CommunicationBytes);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void SevenBOptimiserStateShrinksOneEighthWithZeroOneOnEightRanks()
    {
        var settings = new MemoryPlanSettings(Dtype: ScalarType.BFloat16, MaxLength: 256, GradientCheckpointing: true, Ranks: 8);
        var replicated = MemoryPlan.Estimate(SevenB, settings);
        var sharded = MemoryPlan.Estimate(SevenB, settings with { ShardOptimizerState = true });
        long trained = 7_566_219_264 - 303_507_456;
        Assert.Equal(trained * 12, replicated.OptimizerBytes);
        Assert.Equal((trained + 7) / 8 * 12, sharded.OptimizerBytes);
        // The largest bucket of the replicated reducer is the embedding (32,000 x 4,096, above the 25 MiB bucket).
        Assert.Equal(32_000L * 4096 * 8, replicated.CommunicationBytes);
    }

    [Fact]
    public void ALoraTargetThatMatchesNoLayerIsAnError() =>
        Assert.Contains("qkv_proj", Assert.Throws<ArgumentException>(() =>
            MemoryPlan.Estimate(SevenB, new MemoryPlanSettings(Lora: new LoraOptions(8, TargetModules: ["qkv_proj"])))).Message);
}
