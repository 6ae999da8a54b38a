using LlavaMed.Data.Batching;

namespace LlavaMed.Tests.Data.Batching;

public sealed class SampleOrderTests
{
    [Fact]
    public void OrderDependsOnlyOnSeedAndEpoch()
    {
        Assert.Equal(SampleOrder.Shuffle(50, 3, 1), SampleOrder.Shuffle(50, 3, 1));
        Assert.NotEqual(SampleOrder.Shuffle(50, 3, 1), SampleOrder.Shuffle(50, 3, 2));
        // Fixed values: a change here means resumed runs of older checkpoints would see another order.
        Assert.Equal([1, 2, 3, 0, 4], SampleOrder.Shuffle(5, 3, 0));
    }

    [Fact]
    public void ModalityGroupingKeepsImageAndTextSamplesInSeparateBatches()
    {
        int[] lengths = [5, -3, 7, -2, 4, 6, -8, 9, -1, 3];
        var order = SampleOrder.ModalityGrouped(lengths, batchSize: 2, seed: 1, epoch: 0);
        Assert.Equal(Enumerable.Range(0, 10), order.Order());
        // 6 image samples -> 3 batches, 4 text samples -> 2. As in LLaVA, the last batch of each modality is held back,
        // and the two are appended together, sorted by index (so they may mix); every other batch is pure and
        // sorted longest first.
        var leading = order[..^4].Chunk(2).ToArray();
        Assert.Equal(3, leading.Length);
        Assert.All(leading, b => Assert.True(b.All(i => lengths[i] > 0) || b.All(i => lengths[i] < 0)));
        Assert.All(leading, b => Assert.True(Math.Abs(lengths[b[0]]) >= Math.Abs(lengths[b[1]])));
        Assert.Equal(order[^4..].Order(), order[^4..]);
    }
}
