using LlavaMed.Data.Batching;
using LlavaMed.Models;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

public sealed class PackedSegmentsTests
{
    const long Image = MultimodalSplice.ImageTokenIndex, Ignore = MultimodalSplice.IgnoreIndex;

    [Fact]
    public void EachSegmentCountsPositionsOnFromTheSharedPrefix()
    {
        Assert.Equal([0L, 1, 2, 3, 4, 3, 4, 5], PackedSegments.Positions([1, 1, 1, 2, 2, 3, 3, 3], 0));
        Assert.Equal([0L, 1, 2], PackedSegments.Positions([1, 1, 1], 0));
        Assert.Throws<ArgumentException>(() => PackedSegments.Positions([1, 2, 1], 0));
        Assert.Throws<ArgumentException>(() => PackedSegments.Positions([1, 3, 2], 0));
    }

    [Fact]
    public void ATokenSeesTheSharedPrefixAndEarlierTokensOfItsOwnSegmentOnly()
    {
        using var scope = NewDisposeScope();
        var mask = AttentionMask.Build(tensor(new long[] { 1, 1, 2, 2, 3, 3, 0 }).unsqueeze(0), 1, 7, 0, null, float32, CPU)!;
        var allowed = mask[0, 0].eq(0);
        bool[][] expected =
        [
            [true, false, false, false, false, false, false],
            [true, true, false, false, false, false, false],
            [true, true, true, false, false, false, false],
            [true, true, true, true, false, false, false],
            [true, true, false, false, true, false, false],
            [true, true, false, false, true, true, false],
            [true, true, false, false, false, false, false], // padding query: only the prefix (its output is unused)
        ];
        for (int q = 0; q < 7; q++)
            Assert.Equal(expected[q], allowed[q].data<bool>().ToArray());
    }

    static TokenizedSample Vqa(string id, string image, long[] question, long[] answer) => new(id,
        [1, 3, Image, 5, .. question, 4, .. answer, 2],
        [.. Enumerable.Repeat(Ignore, 4 + question.Length + 1), .. answer, 2], image);

    /// <summary>Four VQA samples on two images ("a" three times, "b" once), in the tiny models' vocabulary.</summary>
    public static readonly TokenizedSample[] VqaSamples =
    [
        Vqa("a1", "a", [10, 11, 12], [20, 21]), Vqa("b1", "b", [13], [22]),
        Vqa("a2", "a", [14], [23]), Vqa("a3", "a", [10, 11, 15, 16], [24, 25, 26]),
    ];

    [Fact]
    public void PackedRowsGiveTheLossAndGradientsOfTheUnpackedSamples()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Config());
        var samples = VqaSamples;
        var images = TinyModels.Images(2);
        Tensor ImageOf(string name) => images[name == "a" ? 0 : 1];

        var parameters = model.parameters().ToList();
        (float Loss, Tensor[] Gradients) LossAndGradients(IReadOnlyList<long[]> ids, IReadOnlyList<long[]> labels, Tensor pixels, IReadOnlyList<long[]>? segments)
        {
            foreach (var p in parameters) p.grad = null;
            using var inputs = model.PrepareInputs(ids, pixels, labels, PaddingSide.Right, segments);
            Assert.Equal(new AttentionMask.Layout(Padded: true, Packed: segments is not null), inputs.MaskLayout);
            var loss = model.TrainingLoss(inputs);
            loss.backward();
            return (loss.item<float>(), parameters.Select(p => p.grad is null ? zeros_like(p) : p.grad.clone()).ToArray());
        }
        var unpacked = LossAndGradients(samples.Select(s => s.InputIds).ToArray(), samples.Select(s => s.Labels).ToArray(),
                                        stack(samples.Select(s => ImageOf(s.ImagePath!)).ToArray()), null);
        var rows = ImagePacking.Pack(samples, maxRowTokens: 100);
        Assert.Equal(2, rows.Count); // a1+a2+a3 in one row, b1 alone
        var packed = LossAndGradients(rows.Select(r => r.InputIds).ToArray(), rows.Select(r => r.Labels).ToArray(),
                                      stack(rows.Select(r => ImageOf(r.ImagePath!)).ToArray()),
                                      rows.Select(r => r.Segments ?? Enumerable.Repeat(PackedSegments.Shared, r.InputIds.Length).ToArray()).ToArray());
        Assert.Equal(unpacked.Loss, packed.Loss, 5);
        for (int i = 0; i < parameters.Count; i++)
            Assert.True(unpacked.Gradients[i].allclose(packed.Gradients[i], rtol: 1e-4, atol: 1e-6), $"gradient of parameter {i} differs");

        // Without the segment ids the same rows are one long sequence per image, and the loss is another.
        var unsegmented = LossAndGradients(rows.Select(r => r.InputIds).ToArray(), rows.Select(r => r.Labels).ToArray(),
                                           stack(rows.Select(r => ImageOf(r.ImagePath!)).ToArray()), null);
        Assert.NotEqual(unpacked.Loss, unsegmented.Loss, 3);
    }
}
