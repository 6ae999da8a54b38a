namespace LlavaMed.Images;

/// <summary>Label-preserving augmentation of a preprocessed image (CHW floats, square): a shift of a few pixels
/// with the border repeated, and a random contrast gain and brightness offset. No flips or large crops, because
/// captions name sides (left/right), levels (upper/lower) and sizes that those would change.</summary>
/// <param name="MaxShiftFraction">The largest shift in each direction, as a fraction of the image side.</param>
/// <param name="Jitter">Gain is drawn from 1 ± Jitter and the offset (in normalised units) from ± Jitter.</param>
public sealed record PixelAugmentation(double MaxShiftFraction, double Jitter)
{
    public static PixelAugmentation None { get; } = new(0, 0);

    public bool IsNone => MaxShiftFraction == 0 && Jitter == 0;

    /// <summary>Draws a shift, gain and offset from <paramref name="random"/> and applies them.</summary>
    public float[] Apply(float[] chw, int side, Random random)
    {
        if (IsNone) return chw;
        int maxShift = (int)Math.Round(MaxShiftFraction * side);
        int dx = random.Next(-maxShift, maxShift + 1), dy = random.Next(-maxShift, maxShift + 1);
        var gain = (float)(1 + Jitter * (2 * random.NextDouble() - 1));
        var offset = (float)(Jitter * (2 * random.NextDouble() - 1));
        return ShiftAndScale(chw, side, dx, dy, gain, offset);
    }

    /// <summary>out[c, y, x] = in[c, clamp(y - dy), clamp(x - dx)] * gain + offset: content moves right by
    /// <paramref name="dx"/> and down by <paramref name="dy"/>, the edge rows and columns fill the gap.</summary>
    public static float[] ShiftAndScale(float[] chw, int side, int dx, int dy, float gain, float offset)
    {
        var plane = side * side;
        if (chw.Length != 3 * plane) throw new ArgumentException($"expected 3 x {side} x {side} values, got {chw.Length}", nameof(chw));
        var result = new float[chw.Length];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < side; y++)
            {
                var sourceRow = c * plane + Math.Clamp(y - dy, 0, side - 1) * side;
                var targetRow = c * plane + y * side;
                for (int x = 0; x < side; x++)
                    result[targetRow + x] = chw[sourceRow + Math.Clamp(x - dx, 0, side - 1)] * gain + offset;
            }
        return result;
    }
}
