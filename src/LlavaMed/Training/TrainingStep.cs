using LlavaMed.Distributed;
using LlavaMed.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Training;

/// <summary>A micro-batch's loss and its weight in the optimiser step (the supervised tokens it holds, or 1);
/// a null loss (nothing to learn in this micro-batch) adds no gradient.</summary>
public readonly record struct MicroBatchLoss(Tensor? Loss, long Weight);

/// <summary>The one optimiser step of every training loop (the stages, the starting model's pretraining, the
/// benchmarks): zero the gradients, back-propagate each micro-batch's loss scaled by its share of the step's weight
/// on all ranks (so gradient accumulation and data parallelism equal one big batch), sum the gradients over the ranks,
/// clip the global norm and update. Each micro-batch runs in its own dispose scope.</summary>
public sealed class TrainingStep(IReadOnlyList<ParameterGroup> optimizerGroups, AdamWOptimizer? optimizer, ZeroAdamWOptimizer? sharded,
                                 double maxGradNorm, ProcessGroup? processGroup = null)
{
    readonly ProcessGroup group = processGroup ?? new SingleProcessGroup();

    /// <summary>One optimiser step over the accumulated micro-batches of every rank; returns the mean loss and the
    /// number of samples, both over all ranks. <paramref name="weight"/> is this rank's total weight of the step
    /// (each micro-batch's loss is scaled by its weight over the total on all ranks); <paramref name="lossOf"/>
    /// computes a micro-batch's loss inside the micro-batch's dispose scope.</summary>
    public (double Loss, int Samples) Run<T>(IReadOnlyList<T> microBatches, long weight, int samples, Func<T, MicroBatchLoss> lossOf)
    {
        optimizer?.ZeroGrad();
        sharded?.ZeroGrad();
        var parameters = optimizerGroups.SelectMany(g => g.Parameters).ToList();
        var device = parameters.FirstOrDefault()?.device ?? CPU;
        long supervised = (long)SumOverRanks(device, weight)[0];
        // The step's loss is summed on the device (float64, the same arithmetic as on the host) and read once: no
        // read-back per micro-batch, which would make a GPU wait for each one.
        Tensor? weightedLosses = null;
        foreach (var batch in microBatches)
        {
            using var scope = NewDisposeScope();
            var (loss, batchSupervised) = lossOf(batch);
            // Nothing to learn here: no supervised token, or (stage 1) a text-only batch the projector never sees.
            if (loss is null || batchSupervised == 0 || !loss.requires_grad) continue;
            var share = (double)batchSupervised / Math.Max(1, supervised);
            using var shareScalar = share.ToScalar(); // explicit Scalars: see TensorArithmetic
            loss.mul(shareScalar).backward();
            var weighted = loss.detach().to(ScalarType.Float64).mul(shareScalar);
            var sum = weightedLosses is null ? weighted : weightedLosses.Plus(weighted);
            weightedLosses?.Dispose();
            weightedLosses = sum.DetachFromDisposeScope();
        }
        double total = 0;
        if (weightedLosses is not null)
        {
            total = weightedLosses.item<double>();
            weightedLosses.Dispose();
        }
        if (sharded is not null) sharded.Step(maxGradNorm);
        else
        {
            DataParallel.AllReduceGradients(group, parameters);
            if (maxGradNorm > 0) nn.utils.clip_grad_norm_(parameters, maxGradNorm);
            optimizer!.Step();
        }
        var global = SumOverRanks(device, total, samples);
        return (global[0], (int)global[1]);
    }

    /// <summary>The values summed over the ranks (float64: exact for counts), reduced on the model's device.</summary>
    public double[] SumOverRanks(Device device, params double[] values)
    {
        if (group.WorldSize == 1) return values;
        using var sums = tensor(values, ScalarType.Float64, device);
        group.AllReduceSum(sums);
        return sums.data<double>().ToArray();
    }
}
