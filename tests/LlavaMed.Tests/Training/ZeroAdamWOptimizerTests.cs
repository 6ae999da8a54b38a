using LlavaMed.Checkpoints;
using LlavaMed.Distributed;
using LlavaMed.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Training;

/// <summary>ZeRO-1 against the unsharded AdamW in one process (world size 1: the whole state is one shard, the
/// collectives are copies); the two-rank comparison runs under mpirun in DataParallelTrainingTests.</summary>
public sealed class ZeroAdamWOptimizerTests
{
    sealed class Problem : IDisposable
    {
        public readonly Parameter[] Parameters;
        readonly Generator random = new(11);

        public Problem()
        {
            using var init = new Generator(5);
            Parameters = [new Parameter(randn([4, 3], generator: init)), new Parameter(randn([7], generator: init)), new Parameter(randn([2, 5], generator: init))];
        }

        /// <summary>An empty group first (an identity projector has no parameters), then two with their own rates.</summary>
        public ParameterGroup[] Groups() => [new ParameterGroup([], 1e-3), new ParameterGroup([Parameters[0], Parameters[1]], 1e-2), new ParameterGroup([Parameters[2]], 3e-3)];

        /// <summary>Gradients for every parameter but the last in the first two steps (it has none yet).</summary>
        public void SetGradients(int step)
        {
            foreach (var (p, i) in Parameters.Select((p, i) => (p, i)))
            {
                using var g = randn(p.shape, generator: random).mul_(TensorArithmetic(3.0));
                if (i == 2 && step < 2) continue;
                p.grad = g.clone();
            }
        }

        static Scalar TensorArithmetic(double value) => value.ToScalar();

        public void Dispose()
        {
            foreach (var p in Parameters) p.Dispose();
            random.Dispose();
        }
    }

    [Fact]
    public void ShardedStepsEqualAdamWBitForBitWithoutClipping()
    {
        using var scope = NewDisposeScope();
        using var ours = new Problem();
        using var theirs = new Problem();
        using var zero = new ZeroAdamWOptimizer(ours.Groups(), new SingleProcessGroup(), weightDecay: 0.05);
        using var adamW = new AdamWOptimizer(theirs.Groups(), weightDecay: 0.05);
        for (int step = 0; step < 5; step++)
        {
            zero.Groups[1].LearningRate = adamW.Groups[1].LearningRate = 1e-2 / (step + 1);
            ours.SetGradients(step);
            theirs.SetGradients(step);
            zero.Step(maxGradNorm: 0);
            adamW.Step();
        }
        foreach (var (a, b) in ours.Parameters.Zip(theirs.Parameters))
            Assert.True(a.eq(b).all().item<bool>(), $"max difference {a.sub(b).abs().max().item<float>()}");
    }

    [Fact]
    public void ClippingUsesTheGlobalNormAsClipGradNorm()
    {
        using var scope = NewDisposeScope();
        using var ours = new Problem();
        using var theirs = new Problem();
        using var zero = new ZeroAdamWOptimizer(ours.Groups(), new SingleProcessGroup());
        using var adamW = new AdamWOptimizer(theirs.Groups());
        for (int step = 0; step < 4; step++)
        {
            ours.SetGradients(step);
            theirs.SetGradients(step);
            double norm = zero.Step(maxGradNorm: 1.0);
            var expected = nn.utils.clip_grad_norm_(theirs.Parameters, 1.0);
            Assert.Equal(expected, norm, 4);
            adamW.Step();
        }
        foreach (var (a, b) in ours.Parameters.Zip(theirs.Parameters))
            Assert.True(a.allclose(b, rtol: 0, atol: 1e-6), $"max difference {a.sub(b).abs().max().item<float>()}");
    }

    [Fact]
    public void StateIsSavedInAdamWsLayoutAndLoadsBack()
    {
        using var scope = NewDisposeScope();
        var folder = Directory.CreateTempSubdirectory("llava-zero-").FullName;
        try
        {
            using var ours = new Problem();
            using var theirs = new Problem();
            using var zero = new ZeroAdamWOptimizer(ours.Groups(), new SingleProcessGroup());
            using var adamW = new AdamWOptimizer(theirs.Groups());
            for (int step = 0; step < 3; step++)
            {
                ours.SetGradients(step);
                theirs.SetGradients(step);
                zero.Step(0);
                adamW.Step();
            }
            var adamPath = Path.Combine(folder, "adam.safetensors");
            adamW.Save(adamPath);
            var gathered = zero.GatherState();
            using (var file = SafetensorsFile.Open(adamPath))
            {
                Assert.Equal(file.Names.Order(), gathered.Keys.Order());
                foreach (var name in file.Names) Assert.True(file.ReadTensor(name).equal(gathered[name]).all().item<bool>(), name);
            }
            // A fresh sharded optimiser resumed from AdamW's file continues exactly as AdamW does.
            using var resumed = new ZeroAdamWOptimizer(ours.Groups(), new SingleProcessGroup());
            resumed.Load(adamPath);
            ours.SetGradients(3);
            theirs.SetGradients(3);
            resumed.Step(0);
            adamW.Step();
            foreach (var (a, b) in ours.Parameters.Zip(theirs.Parameters)) Assert.True(a.equal(b).all().item<bool>());
            SafetensorsFile.Save(Path.Combine(folder, "bad.safetensors"), new Dictionary<string, Tensor> { ["0.0.exp_avg"] = zeros(4, 3) });
            Assert.Contains("missing [", Assert.Throws<CheckpointFormatException>(() => resumed.Load(Path.Combine(folder, "bad.safetensors"))).Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
