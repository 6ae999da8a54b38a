using System.Numerics;

namespace LlavaMed.Images;

/// <summary>One image's drawn augmentation: content moved right by <paramref name="Dx"/> and down by
/// <paramref name="Dy"/> pixels, then every value times <paramref name="Gain"/> plus <paramref name="Offset"/>.</summary>
public readonly record struct AugmentationDraw(int Dx, int Dy, float Gain, float Offset)
{
    public static AugmentationDraw Identity { get; } = new(0, 0, 1f, 0f);
}

/// <summary>Label-preserving augmentation of a preprocessed image (CHW floats, square): a shift of a few pixels
/// with the border repeated, and a random contrast gain and brightness offset. No flips or large crops, because
/// captions name sides (left/right), levels (upper/lower) and sizes that those would change.</summary>
/// <param name="MaxShiftFraction">The largest shift in each direction, as a fraction of the image side.</param>
/// <param name="Jitter">Gain is drawn from 1 ± Jitter and the offset (in normalised units) from ± Jitter.</param>
public sealed record PixelAugmentation(double MaxShiftFraction, double Jitter)
{
    public static PixelAugmentation None { get; } = new(0, 0);

    public bool IsNone => MaxShiftFraction == 0 && Jitter == 0;

    /// <summary>Draws a shift, gain and offset from <paramref name="random"/> (nothing for <see cref="None"/>). Drawing
    /// is separate from applying, so that a batch's draws come from one stream in batch order whatever writes the
    /// images, and applying writes into a buffer it is given.</summary>
    public AugmentationDraw Draw(int side, Random random)
    {
        if (IsNone) return AugmentationDraw.Identity;
        int maxShift = (int)Math.Round(MaxShiftFraction * side);
        int dx = random.Next(-maxShift, maxShift + 1), dy = random.Next(-maxShift, maxShift + 1);
        var gain = (float)(1 + Jitter * (2 * random.NextDouble() - 1));
        var offset = (float)(Jitter * (2 * random.NextDouble() - 1));
        return new AugmentationDraw(dx, dy, gain, offset);
    }

    /// <summary><paramref name="draw"/> applied to <paramref name="chw"/>, written into <paramref name="destination"/>
    /// (a plain copy for <see cref="None"/>).</summary>
    public void Apply(ReadOnlySpan<float> chw, int side, AugmentationDraw draw, Span<float> destination)
    {
        if (IsNone) chw.CopyTo(destination);
        else ShiftAndScale(chw, side, draw, destination);
    }

    /// <summary>out[c, y, x] = in[c, clamp(y - dy), clamp(x - dx)] * gain + offset: content moves right by
    /// <paramref name="dx"/> and down by <paramref name="dy"/>, the edge rows and columns fill the gap.</summary>
    public static float[] ShiftAndScale(float[] chw, int side, int dx, int dy, float gain, float offset)
    {
        var result = new float[chw.Length];
        ShiftAndScale(chw, side, new AugmentationDraw(dx, dy, gain, offset), result);
        return result;
    }

    /// <summary><see cref="ShiftAndScale(float[], int, int, int, float, float)"/> into <paramref name="destination"/>.
    /// Each row is its clamped edges plus one contiguous stretch, multiplied and added in SIMD vectors: a multiply
    /// then an add, never fused, so every value is bit for bit what <c>value * gain + offset</c> gives.</summary>
    public static void ShiftAndScale(ReadOnlySpan<float> chw, int side, AugmentationDraw draw, Span<float> destination)
    {
        var plane = side * side;
        if (chw.Length != 3 * plane) throw new ArgumentException($"expected 3 x {side} x {side} values, got {chw.Length}", nameof(chw));
        if (destination.Length != chw.Length) throw new ArgumentException($"expected room for {chw.Length} values, got {destination.Length}", nameof(destination));
        // Columns [start, end) read source column x - dx; those before repeat column 0, those after column side - 1.
        int start = Math.Clamp(draw.Dx, 0, side), end = Math.Clamp(side + draw.Dx, 0, side);
        var gain = new Vector<float>(draw.Gain);
        var offset = new Vector<float>(draw.Offset);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < side; y++)
            {
                var source = chw.Slice(c * plane + Math.Clamp(y - draw.Dy, 0, side - 1) * side, side);
                var target = destination.Slice(c * plane + y * side, side);
                target[..start].Fill(source[0] * draw.Gain + draw.Offset);
                target[end..].Fill(source[side - 1] * draw.Gain + draw.Offset);
                if (start == end) continue; // shifted by the whole side or more: edges only
                var from = source[(start - draw.Dx)..(end - draw.Dx)];
                var to = target[start..end];
                int x = 0;
                for (; x <= to.Length - Vector<float>.Count; x += Vector<float>.Count)
                    (new Vector<float>(from[x..]) * gain + offset).CopyTo(to[x..]);
                for (; x < to.Length; x++) to[x] = from[x] * draw.Gain + draw.Offset;
            }
    }
}
