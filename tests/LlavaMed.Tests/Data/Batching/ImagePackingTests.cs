using LlavaMed.Data.Batching;
using LlavaMed.Models;

namespace LlavaMed.Tests.Data.Batching;

public sealed class ImagePackingTests
{
    const long Image = MultimodalSplice.ImageTokenIndex, Ignore = MultimodalSplice.IgnoreIndex;

    // BOS, [INST], image, question..., [/INST], answer..., EOS: labels only on the answer and EOS.
    static TokenizedSample Vqa(string id, string? image, long[] question, long[] answer)
    {
        long[] ids = [1, 3, Image, .. question, 4, .. answer, 2];
        long[] labels = [.. Enumerable.Repeat(Ignore, 3 + question.Length + 1), .. answer, 2];
        return new TokenizedSample(id, ids, labels, image);
    }

    [Fact]
    public void SamplesOfOneImageShareThePrefixAndKeepTheirOwnSegments()
    {
        var a1 = Vqa("a1", "a.png", [10, 11], [20]);
        var b1 = Vqa("b1", "b.png", [12], [21]);
        var a2 = Vqa("a2", "a.png", [13], [22, 23]);
        var rows = ImagePacking.Pack([a1, b1, a2], maxRowTokens: 100);

        Assert.Equal(2, rows.Count);
        var packed = rows[0];
        Assert.Equal(["a1", "a2"], packed.Ids);
        Assert.Equal([1L, 3, Image, 10, 11, 4, 20, 2, 13, 4, 22, 23, 2], packed.InputIds);
        Assert.Equal([Ignore, Ignore, Ignore, Ignore, Ignore, Ignore, 20, 2, Ignore, Ignore, 22, 23, 2], packed.Labels);
        Assert.Equal([1L, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3], packed.Segments!);
        Assert.Equal("a.png", packed.ImagePath);
        Assert.Equal(["b1"], rows[1].Ids);
        Assert.Equal(b1.InputIds, rows[1].InputIds);
        Assert.Null(rows[1].Segments);
        Assert.Equal(7, rows.Sum(r => r.Labels.Count(l => l != Ignore)));
    }

    [Fact]
    public void ThePrefixStopsBeforeTheTokenThatPrecedesAnyAnswer()
    {
        // The same question twice: sharing all of it would let the second answer be predicted from the end of the
        // first segment, so each remainder keeps the token before its answer.
        var first = Vqa("q1", "a.png", [10, 11], [20]);
        var second = Vqa("q2", "a.png", [10, 11], [21]);
        Assert.Equal(5, ImagePacking.SharedPrefixLength([first, second]));
        var row = Assert.Single(ImagePacking.Pack([first, second], 100));
        Assert.Equal([1L, 3, Image, 10, 11, 4, 20, 2, 4, 21, 2], row.InputIds);
        Assert.Equal([1L, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3], row.Segments!);
    }

    [Fact]
    public void AnImageWhoseSamplesDoNotFitGetsSeveralRowsEachWithThePrefix()
    {
        var samples = Enumerable.Range(0, 5).Select(i => Vqa($"q{i}", "a.png", [10 + i], [20 + i])).ToArray();
        // Prefix of 3 tokens, remainders of 4: a 12-token row holds two of them, a lone leftover stays plain.
        var rows = ImagePacking.Pack(samples, maxRowTokens: 12);
        Assert.Equal([["q0", "q1"], ["q2", "q3"], ["q4"]], rows.Select(r => r.Ids.ToArray()));
        Assert.All(rows.Take(2), r => Assert.Equal(11, r.InputIds.Length));
        Assert.Null(rows[2].Segments);
        Assert.All(rows, r => Assert.Equal([1L, 3, Image], r.InputIds[..3]));
    }

    [Fact]
    public void SamplesThatDoNotShareTheImagePlaceholderOrHaveNoImageStayPlain()
    {
        // Image after the question (no shared prefix holds it) and text-only samples.
        var late1 = new TokenizedSample("l1", [1, 3, 10, Image, 4, 20, 2], [Ignore, Ignore, Ignore, Ignore, Ignore, 20, 2], "a.png");
        var late2 = new TokenizedSample("l2", [1, 3, 11, Image, 4, 21, 2], [Ignore, Ignore, Ignore, Ignore, Ignore, 21, 2], "a.png");
        var text1 = new TokenizedSample("t1", [1, 3, 10, 4, 20, 2], [Ignore, Ignore, Ignore, Ignore, 20, 2], null);
        var text2 = new TokenizedSample("t2", [1, 3, 10, 4, 21, 2], [Ignore, Ignore, Ignore, Ignore, 21, 2], null);
        var rows = ImagePacking.Pack([late1, late2, text1, text2], 100);
        Assert.Equal(4, rows.Count);
        Assert.All(rows, r => Assert.Null(r.Segments));
    }

    [Fact]
    public void ImageGroupsHoldUpToTheGroupSizeOfOneImageAndDependOnlyOnSeedAndEpoch()
    {
        string?[] images = ["a", "b", "a", null, "c", "b", "a", null, "c", "a"];
        foreach (var size in new[] { 1, 2, 10 })
        {
            var groups = SampleOrder.ImageGroups(images, size, seed: 3, epoch: 1);
            Assert.Equal(Enumerable.Range(0, images.Length), groups.SelectMany(g => g).Order());
            Assert.All(groups, g => Assert.True(g.Length <= size && g.Select(i => images[i] ?? $"text {i}").Distinct().Count() == 1));
            Assert.Equal(groups, SampleOrder.ImageGroups(images, size, 3, 1));
        }
        // Whole images when the size allows: a, b, c and the two text samples.
        Assert.Equal(5, SampleOrder.ImageGroups(images, 10, 3, 1).Length);
        Assert.Equal(6, SampleOrder.ImageGroups(images, 2, 3, 1).Length); // a's four samples make two groups
        Assert.NotEqual(SampleOrder.ImageGroups(images, 10, 3, 1), SampleOrder.ImageGroups(images, 10, 3, 2));
    }
}
