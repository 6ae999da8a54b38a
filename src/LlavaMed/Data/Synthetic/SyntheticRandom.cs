namespace LlavaMed.Data.Synthetic;

/// <summary>Seeded randomness that does not depend on thread scheduling: every figure gets its own
/// <see cref="Random"/> whose seed is a stable hash of (corpus seed, stream, index).</summary>
static class SyntheticRandom
{
    public const int FigureStream = 1, SceneStream = 2, FigureTextStream = 3, SceneTextStream = 4;

    /// <summary>SplitMix64 over the three inputs; unlike <see cref="HashCode"/> it is the same in every process.</summary>
    public static Random For(int seed, int stream, int index)
    {
        var state = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)stream * 0xBF58476D1CE4E5B9UL + (ulong)index);
        for (var round = 0; round < 2; round++)
        {
            state = unchecked(state + 0x9E3779B97F4A7C15UL);
            state = unchecked((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9UL);
            state = unchecked((state ^ (state >> 27)) * 0x94D049BB133111EBUL);
            state ^= state >> 31;
        }
        return new Random((int)(state & 0x7FFFFFFF));
    }

    public static T Pick<T>(this Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    public static bool Chance(this Random random, double probability) => random.NextDouble() < probability;

    public static float Uniform(this Random random, double low, double high) => (float)(low + (high - low) * random.NextDouble());
}
