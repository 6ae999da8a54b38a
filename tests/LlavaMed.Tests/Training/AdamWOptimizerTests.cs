using LlavaMed.Checkpoints;
using LlavaMed.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Training;

public sealed class AdamWOptimizerTests
{
    /// <summary>Two parameter groups with their own learning rates, and gradients drawn from a private generator.</summary>
    sealed class Problem : IDisposable
    {
        public readonly Parameter First, Second;
        readonly Generator random = new(7);

        public Problem()
        {
            using var init = new Generator(3);
            First = new Parameter(randn([4, 3], generator: init));
            Second = new Parameter(randn([5], generator: init));
        }

        public void SetGradients()
        {
            foreach (var p in new[] { First, Second })
            {
                using var g = randn(p.shape, generator: random);
                p.grad = g.clone();
            }
        }

        public void Dispose()
        {
            First.Dispose();
            Second.Dispose();
            random.Dispose();
        }
    }

    [Fact]
    public void StepsEqualTorchSharpsAdamWBitForBit()
    {
        using var ours = new Problem();
        using var theirs = new Problem();
        using var adamW = new AdamWOptimizer([new ParameterGroup([ours.First], 1e-2), new ParameterGroup([ours.Second], 3e-3)], weightDecay: 0.05);
        using var reference = new AdamW([new AdamW.ParamGroup([theirs.First], 1e-2, 0.9, 0.999, 1e-8, 0.05),
                                         new AdamW.ParamGroup([theirs.Second], 3e-3, 0.9, 0.999, 1e-8, 0.05)], 1e-2, weight_decay: 0.05);
        for (int step = 0; step < 6; step++)
        {
            // A changing learning rate, as the cosine schedule sets it.
            adamW.Groups[0].LearningRate = reference.ParamGroups.First().LearningRate = 1e-2 / (step + 1);
            ours.SetGradients();
            theirs.SetGradients();
            adamW.Step();
            reference.step();
        }
        Assert.True(ours.First.eq(theirs.First).all().item<bool>());
        Assert.True(ours.Second.eq(theirs.Second).all().item<bool>());
    }

    [Fact]
    public void SavedStateResumesExactlyAndLoadsStrictly()
    {
        using var uninterrupted = new Problem();
        using var resumed = new Problem();
        using var first = new AdamWOptimizer([new ParameterGroup([uninterrupted.First, uninterrupted.Second], 1e-2)]);
        for (int step = 0; step < 5; step++)
        {
            uninterrupted.SetGradients();
            first.Step();
        }

        var folder = Directory.CreateTempSubdirectory("adamw-");
        var path = Path.Combine(folder.FullName, "optimizer.safetensors");
        using (var before = new AdamWOptimizer([new ParameterGroup([resumed.First, resumed.Second], 1e-2)]))
        {
            for (int step = 0; step < 3; step++)
            {
                resumed.SetGradients();
                before.Step();
            }
            before.Save(path);
        }
        using var after = new AdamWOptimizer([new ParameterGroup([resumed.First, resumed.Second], 1e-2)]);
        after.Load(path);
        for (int step = 0; step < 2; step++)
        {
            resumed.SetGradients();
            after.Step();
        }
        Assert.True(uninterrupted.First.eq(resumed.First).all().item<bool>());
        Assert.True(uninterrupted.Second.eq(resumed.Second).all().item<bool>());

        using var other = new AdamWOptimizer([new ParameterGroup([resumed.First], 1e-2)]);
        var error = Assert.Throws<CheckpointFormatException>(() => other.Load(path));
        Assert.Contains("unexpected [0.1.exp_avg, 0.1.exp_avg_sq, 0.1.step]", error.Message);
        folder.Delete(recursive: true);
    }

    /// <summary>A bf16 weight of 1.0 and updates of lr = 1e-4 (Adam's first steps move by about lr): 1.0 - 1e-4 rounds
    /// back to 1.0 in bf16 (spacing 2^-8 below 1), so stepping the bf16 weight itself never moves it, silently. The
    /// float32 master copy accumulates the updates and the bf16 weight follows it once they add up.</summary>
    [Fact]
    public void Bfloat16WeightsStopUpdatingUnlessAFloat32MasterCopyIsStepped()
    {
        using var scope = NewDisposeScope();
        const int Steps = 30;
        const double Lr = 1e-4;
        var plain = new Parameter(ones(4, dtype: bfloat16));
        var mastered = new Parameter(ones(4, dtype: bfloat16));
        using var plainAdam = optim.AdamW([plain], lr: Lr, weight_decay: 0); // TorchSharp's AdamW: state in the weights' dtype
        using var ours = new AdamWOptimizer([new ParameterGroup([mastered], Lr)]);
        for (int step = 0; step < Steps; step++)
        {
            plain.grad = ones(4, dtype: bfloat16);
            mastered.grad = ones(4, dtype: bfloat16);
            plainAdam.step();
            ours.Step();
        }
        Assert.Equal(1.0f, plain.to(float32)[0].item<float>()); // 30 updates lost
        var moved = mastered.to(float32)[0].item<float>();
        Assert.Equal(0.99609375f, moved); // bf16 nearest to the master's 1 - 30e-4 = 0.997
        Assert.Equal(ScalarType.BFloat16, mastered.dtype);

        // The master copy is part of the saved state, so a resumed run continues from 0.997, not from 0.996.
        var path = Path.Combine(Path.GetTempPath(), $"adamw-master-{Guid.NewGuid():N}.safetensors");
        try
        {
            ours.Save(path);
            using var file = SafetensorsFile.Open(path);
            Assert.Contains("0.0.master", file.Names);
            Assert.Equal(1 - Steps * Lr, file.ReadTensor("0.0.master")[0].item<float>(), 4);
            Assert.Equal(ScalarType.Float32, file.ReadTensor("0.0.exp_avg").dtype);
        }
        finally { File.Delete(path); }
    }
}
