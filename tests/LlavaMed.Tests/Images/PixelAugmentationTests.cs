using LlavaMed.Images;

namespace LlavaMed.Tests.Images;

public class PixelAugmentationTests
{
    /// <summary>A 3 x 4 x 4 image whose value encodes (channel, row, column).</summary>
    static float[] Coded()
    {
        var values = new float[3 * 4 * 4];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++)
                    values[(c * 4 + y) * 4 + x] = 100 * c + 10 * y + x;
        return values;
    }

    static float At(float[] chw, int c, int y, int x) => chw[(c * 4 + y) * 4 + x];

    /// <summary>One draw from <paramref name="random"/> applied to a copy of <paramref name="chw"/>, as the tower's
    /// pretraining applies it.</summary>
    static float[] Augmented(PixelAugmentation augmentation, float[] chw, int side, Random random)
    {
        var result = new float[chw.Length];
        augmentation.Apply(chw, side, augmentation.Draw(side, random), result);
        return result;
    }

    [Fact]
    public void NoShiftUnitGainZeroOffsetIsTheIdentity() =>
        Assert.Equal(Coded(), PixelAugmentation.ShiftAndScale(Coded(), 4, 0, 0, 1f, 0f));

    [Fact]
    public void ContentMovesRightAndDownAndTheEdgeFillsTheGap()
    {
        var shifted = PixelAugmentation.ShiftAndScale(Coded(), 4, dx: 1, dy: 2, gain: 1f, offset: 0f);
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(At(Coded(), c, 0, 0), At(shifted, c, 2, 1));
            Assert.Equal(At(Coded(), c, 1, 2), At(shifted, c, 3, 3));
            Assert.Equal(At(Coded(), c, 0, 0), At(shifted, c, 0, 0)); // top-left corner repeated into the gap
            Assert.Equal(At(Coded(), c, 0, 2), At(shifted, c, 1, 3));
        }
    }

    [Fact]
    public void GainAndOffsetApplyToEveryValue()
    {
        var scaled = PixelAugmentation.ShiftAndScale(Coded(), 4, 0, 0, gain: 2f, offset: -1f);
        Assert.Equal(Coded().Select(v => 2 * v - 1), scaled);
    }

    [Fact]
    public void NoneLeavesTheImageAloneAndTakesNothingFromTheStream()
    {
        var random = new Random(0);
        Assert.Equal(Coded(), Augmented(PixelAugmentation.None, Coded(), 4, random));
        Assert.Equal(AugmentationDraw.Identity, PixelAugmentation.None.Draw(4, random));
        Assert.Equal(new Random(0).Next(), random.Next());
    }

    [Fact]
    public void DrawsStayWithinTheLimitsAndRepeatWithTheSeed()
    {
        // A constant image isolates gain and offset: every value becomes gain + offset, within 1 ± 0.3 ± 0.3.
        var augmentation = new PixelAugmentation(MaxShiftFraction: 0.25, Jitter: 0.3);
        var constant = Enumerable.Repeat(1f, 48).ToArray();
        var first = new Random(7);
        var second = new Random(7);
        for (int draw = 0; draw < 50; draw++)
        {
            var a = Augmented(augmentation, constant, 4, first);
            Assert.Equal(a, Augmented(augmentation, constant, 4, second));
            Assert.All(a, v => Assert.InRange(v, 0.4f, 1.6f));
            Assert.Single(a.Distinct());
        }
        // Shifts of at most one pixel (0.25 of 4): the coded image's value at (1, 1) stays within one row and column.
        var random = new Random(3);
        var shifts = Enumerable.Range(0, 50).Select(_ =>
        {
            var shifted = Augmented(new PixelAugmentation(0.25, 0), Coded(), 4, random);
            return At(shifted, 0, 1, 1);
        }).Distinct().ToList();
        Assert.All(shifts, v => Assert.Contains(v, new float[] { 0, 1, 2, 10, 11, 12, 20, 21, 22 }));
        Assert.True(shifts.Count > 3, "the shifts should vary");
    }

    /// <summary>The definition, one value at a time: out[c, y, x] = in[c, clamp(y - dy), clamp(x - dx)] * gain + offset.</summary>
    static float[] ReferenceShiftAndScale(float[] chw, int side, int dx, int dy, float gain, float offset)
    {
        var result = new float[chw.Length];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                    result[(c * side + y) * side + x] = chw[(c * side + Math.Clamp(y - dy, 0, side - 1)) * side + Math.Clamp(x - dx, 0, side - 1)] * gain + offset;
        return result;
    }

    [Fact]
    public void VectorisedRowsEqualTheDefinitionBitForBitForEveryShift()
    {
        // 37 columns: neither a multiple of any SIMD width nor free of remainders; shifts beyond the side included.
        const int side = 37;
        var random = new Random(11);
        var image = Enumerable.Range(0, 3 * side * side).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        for (int dx = -side - 2; dx <= side + 2; dx += 3)
            for (int dy = -side - 2; dy <= side + 2; dy += 7)
            {
                var gain = (float)(0.7 + random.NextDouble() * 0.6);
                var offset = (float)(random.NextDouble() * 0.6 - 0.3);
                Assert.Equal(ReferenceShiftAndScale(image, side, dx, dy, gain, offset), PixelAugmentation.ShiftAndScale(image, side, dx, dy, gain, offset));
            }
    }
}
