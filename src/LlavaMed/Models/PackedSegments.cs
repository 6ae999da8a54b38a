namespace LlavaMed.Models;

/// <summary>Packed rows: several sequences that begin alike (the same template prefix and image) stored as one row,
/// the shared prefix once and then each sequence's remainder as a segment. The attention mask's values say which
/// is which: <see cref="Padding"/>, <see cref="Shared"/> (a plain row is all shared), or a segment number from
/// <see cref="FirstSegment"/> on. A token attends to the shared prefix and to its own segment only, and a segment's
/// positions continue from the end of the prefix, so every segment computes exactly what its sequence computes
/// alone, while the prefix (and its image) is encoded once instead of once per sequence.</summary>
public static class PackedSegments
{
    public const long Padding = 0, Shared = 1, FirstSegment = 2;

    /// <summary>Position ids of a row's tokens: 0.. over the shared prefix, and each segment again from the
    /// prefix's length. The prefix must come first and each segment be contiguous, numbered upwards.</summary>
    public static long[] Positions(long[] segments, int row)
    {
        var positions = new long[segments.Length];
        long prefix = 0, current = Shared, start = 0;
        for (int j = 0; j < segments.Length; j++)
        {
            var segment = segments[j];
            if (segment == Shared)
            {
                if (current != Shared) throw new ArgumentException($"row {row}: shared token at {j} after a segment began");
                positions[j] = j;
                prefix = j + 1;
                continue;
            }
            if (segment < FirstSegment || segment < current)
                throw new ArgumentException($"row {row}: segment id {segment} at {j} (segments are numbered upwards from {FirstSegment})");
            if (segment != current) (current, start) = (segment, j);
            positions[j] = prefix + j - start;
        }
        return positions;
    }
}
