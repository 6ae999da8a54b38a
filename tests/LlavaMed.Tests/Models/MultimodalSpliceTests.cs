using LlavaMed.Models;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

public sealed class MultimodalSpliceTests
{
    const long Image = MultimodalSplice.ImageTokenIndex, Ignore = MultimodalSplice.IgnoreIndex;

    // Each "image" is a [N, D] block whose rows are all equal to its index + 100, so positions are easy to read.
    static Tensor Features(int images, int patches = 3, int hidden = 2) =>
        (arange(images, dtype: float32) + 100).view(images, 1, 1).expand(images, patches, hidden).contiguous();

    // Token t embeds to a row of t's, so spliced rows show which token or image they came from.
    static Tensor Embed(Tensor ids) => ids.to(float32).unsqueeze(-1).expand(-1, 2).contiguous();

    static float[] FirstColumn(Tensor embeds, int row) => embeds[row, .., 0].data<float>().ToArray();

    [Fact]
    public void PlaceholderIsReplacedByTheImageRowsWithIgnoredLabels()
    {
        using var scope = NewDisposeScope();
        var inputs = MultimodalSplice.SplicePlaceholders([[1, 5, Image, 7]], [[Ignore, 5, 6, 7]], Features(1), Embed, null, PaddingSide.Right);
        Assert.Equal([1f, 5, 100, 100, 100, 7], FirstColumn(inputs.InputsEmbeds, 0));
        Assert.Equal([Ignore, 5, Ignore, Ignore, Ignore, 7], inputs.Labels!.data<long>().ToArray());
        Assert.Equal([0L, 1, 2, 3, 4, 5], inputs.PositionIds.data<long>().ToArray());
        Assert.Equal(0, inputs.TruncatedRows);
    }

    [Theory]
    [InlineData(PaddingSide.Right)]
    [InlineData(PaddingSide.Left)]
    public void HostLabelsAreTheLabelTensorsRowsAndTheMaskLayoutIsKnown(PaddingSide side)
    {
        using var scope = NewDisposeScope();
        var inputs = MultimodalSplice.SplicePlaceholders([[1, 5, Image, 7, 8, 9, 10], [1, Image, 4]], [[Ignore, 5, Ignore, 7, 8, 9, 10], [Ignore, Ignore, 4]],
                                                         Features(2), Embed, maxLength: 8, side);
        Assert.Equal(1, inputs.TruncatedRows);
        var rows = inputs.HostLabels!;
        Assert.Equal(new long[] { rows.Count, rows[0].Length }, inputs.Labels!.shape);
        Assert.Equal(inputs.Labels.data<long>().ToArray(), rows.SelectMany(r => r).ToArray());
        Assert.Null(MultimodalSplice.SplicePlaceholders([[1, Image]], null, Features(1), Embed, null, side).HostLabels);
        Assert.Equal(new AttentionMask.Layout(Padded: true, Packed: false), inputs.MaskLayout);
        var equal = MultimodalSplice.SplicePlaceholders([[1, Image], [Image, 2]], null, Features(2), Embed, null, side);
        Assert.Equal(new AttentionMask.Layout(Padded: false, Packed: false), equal.MaskLayout);
    }

    [Fact]
    public void SeveralImagesPerRowAndRowsWithoutImagesConsumeImagesInOrder()
    {
        using var scope = NewDisposeScope();
        var inputs = MultimodalSplice.SplicePlaceholders(
            [[Image, 4, Image], [8, 9], [Image]], null, Features(3, patches: 1), Embed, null, PaddingSide.Right);
        Assert.Equal([100f, 4, 101], FirstColumn(inputs.InputsEmbeds, 0));
        Assert.Equal([8f, 9, 0], FirstColumn(inputs.InputsEmbeds, 1));
        Assert.Equal([102f, 0, 0], FirstColumn(inputs.InputsEmbeds, 2));
        Assert.Equal([1L, 1, 1, 1, 1, 0, 1, 0, 0], inputs.AttentionMask.data<long>().ToArray());
        Assert.Null(inputs.Labels);
    }

    [Fact]
    public void LeftPaddingPutsRealTokensLastAndCountsPositionsFromTheFirstRealToken()
    {
        using var scope = NewDisposeScope();
        var inputs = MultimodalSplice.SplicePlaceholders([[3, Image], [4]], [[3, Ignore], [4]], Features(1, patches: 2), Embed, null, PaddingSide.Left);
        Assert.Equal([3f, 100, 100], FirstColumn(inputs.InputsEmbeds, 0));
        Assert.Equal([0f, 0, 4], FirstColumn(inputs.InputsEmbeds, 1));
        Assert.Equal([1L, 1, 1, 0, 0, 1], inputs.AttentionMask.data<long>().ToArray());
        Assert.Equal([0L, 1, 2, 0, 0, 0], inputs.PositionIds.data<long>().ToArray());
        Assert.Equal([3L, Ignore, Ignore, Ignore, Ignore, 4], inputs.Labels!.data<long>().ToArray());
    }

    [Fact]
    public void RowsLongerThanTheMaximumAreTruncatedAndCounted()
    {
        using var scope = NewDisposeScope();
        var inputs = MultimodalSplice.SplicePlaceholders([[1, Image, 2], [5]], null, Features(1, patches: 4), Embed, 4, PaddingSide.Right);
        Assert.Equal(4, inputs.Length);
        Assert.Equal([1f, 100, 100, 100], FirstColumn(inputs.InputsEmbeds, 0));
        Assert.Equal(1, inputs.TruncatedRows);
    }

    [Fact]
    public void MissingOrSurplusImagesAreErrors()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() =>
            MultimodalSplice.SplicePlaceholders([[Image, Image]], null, Features(1), Embed, null, PaddingSide.Right));
        Assert.Throws<ArgumentException>(() =>
            MultimodalSplice.SplicePlaceholders([[Image]], null, Features(2), Embed, null, PaddingSide.Right));
    }

    [Fact]
    public void V10PatchTokensAreOverwrittenInPlaceKeepingStartAndEnd()
    {
        using var scope = NewDisposeScope();
        var tokens = new ImagePatchTokenIds(Patch: 50, Start: 51, End: 52);
        var inputs = MultimodalSplice.ReplacePatchTokens([[1, 51, 50, 50, 50, 52, 9]], [[1, 51, 50, 50, 50, 52, 9]], Features(1),
                                                         Embed, tokens, useStartEnd: true, null, PaddingSide.Right);
        Assert.Equal([1f, 51, 100, 100, 100, 52, 9], FirstColumn(inputs.InputsEmbeds, 0));
        Assert.Equal([1L, 51, Ignore, Ignore, Ignore, 52, 9], inputs.Labels!.data<long>().ToArray());
        Assert.Throws<ArgumentException>(() => MultimodalSplice.ReplacePatchTokens(
            [[51, 50, 50, 52]], null, Features(1), Embed, tokens, useStartEnd: true, null, PaddingSide.Right));
    }
}
