using LlavaMed.Views;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Notebooks;

public sealed class TensorSummaryTests
{
    [Fact]
    public void SummarisesShapeDtypeStatisticsAndTheFirstValuesInRowMajorOrder()
    {
        using var tensor = torch.tensor(new float[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, [2, 5]);

        var summary = TensorSummary.Of(tensor);

        Assert.Equal([2L, 5L], summary.Shape);
        Assert.Equal(ScalarType.Float32, summary.Dtype);
        Assert.Equal("cpu", summary.Device);
        Assert.Equal((0.0, 9.0, 4.5, 0L), (summary.Min, summary.Max, summary.Mean, summary.NonFinite));
        Assert.Equal([0.0, 1, 2, 3, 4, 5, 6, 7], summary.Preview);
        Assert.Equal("[0, 1, 2, 3, 4, 5, 6, 7, …]", summary.PreviewText);
        Assert.Contains("<td>[2, 5]</td><td>Float32</td><td>cpu</td><td>10</td><td>min 0, max 9, mean 4.5</td>", summary.ToHtml().Html);
    }

    [Fact]
    public void FollowsTheLogicalOrderOfANonContiguousViewAndAveragesLowPrecisionAndIntegerTensorsExactly()
    {
        using var matrix = torch.tensor(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        using var transposed = matrix.t();
        Assert.Equal([1.0, 4, 2, 5, 3, 6], TensorSummary.Of(transposed).Preview);

        // 1 + 2 + ... + 256 in bfloat16: each value is exact, their float64 mean is 128.5.
        using var bf16 = torch.tensor(Enumerable.Range(1, 256).Select(i => (float)i).ToArray()).to_type(ScalarType.BFloat16);
        Assert.Equal(128.5, TensorSummary.Of(bf16).Mean);

        using var integers = torch.tensor(new long[] { 3, -1, 4 });
        var summary = TensorSummary.Of(integers, previewCount: 2);
        Assert.Equal((-1.0, 4.0, 2.0), (summary.Min, summary.Max, summary.Mean));
        Assert.Equal("[3, -1, …]", summary.PreviewText);
    }

    [Fact]
    public void CountsNaNAndInfinityAndSaysWhyEmptyAndMetaTensorsHaveNoStatistics()
    {
        using var withNaN = torch.tensor(new[] { 1f, float.NaN, float.PositiveInfinity });
        Assert.Equal(2L, TensorSummary.Of(withNaN).NonFinite);
        Assert.Contains("2 NaN/inf", TensorSummary.Of(withNaN).StatisticsText);

        using var empty = torch.zeros(0, 3);
        Assert.Equal("empty", TensorSummary.Of(empty).StatisticsText);

        using var meta = torch.empty([4, 2], device: torch.META);
        var summary = TensorSummary.Of(meta);
        Assert.Equal("no data (meta device)", summary.StatisticsText);
        Assert.Equal((8L, "-"), (summary.Count, summary.PreviewText));
    }
}
