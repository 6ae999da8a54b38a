namespace LlavaMed.Data.Batching;

/// <summary>The order in which an epoch visits the samples: a seeded shuffle that depends only on (seed, epoch),
/// so a run resumed mid-epoch sees the same order, optionally grouped like LLaVA's
/// <c>group_by_modality_length</c> sampler.</summary>
public static class SampleOrder
{
    /// <summary>A permutation of 0..count-1 from (seed, epoch) alone.</summary>
    public static int[] Shuffle(int count, int seed, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        new Random(StreamSeed(seed, epoch, stream: 1)).Shuffle(order);
        return order;
    }

    /// <summary>LLaVA's <c>get_modality_length_grouped_indices</c> (world size 1): image samples (positive
    /// lengths) and text-only samples (negative lengths) go to separate batches; within each modality a seeded
    /// shuffle is cut into batches sorted by length, longest first; the full batches of both modalities are
    /// shuffled together and the two leftover partial batches are merged, sorted by index, and placed last.
    /// LLaVA shuffles within a modality with the global RNG; here everything comes from (seed, epoch).</summary>
    public static int[] ModalityGrouped(IReadOnlyList<int> modalityLengths, int batchSize, int seed, int epoch)
    {
        if (modalityLengths.Any(l => l == 0)) throw new ArgumentException("a sample has zero length");
        var image = modalityLengths.Select((l, i) => (l, i)).Where(x => x.l > 0).Select(x => x.i).ToArray();
        var text = modalityLengths.Select((l, i) => (l, i)).Where(x => x.l < 0).Select(x => x.i).ToArray();
        var random = new Random(StreamSeed(seed, epoch, stream: 2));
        if (image.Length == 0 || text.Length == 0)
            return LengthGroupedBatches(Enumerable.Range(0, modalityLengths.Count).ToArray(), modalityLengths, batchSize, random)
                .SelectMany(b => b).ToArray();
        var imageBatches = LengthGroupedBatches(image, modalityLengths, batchSize, random);
        var textBatches = LengthGroupedBatches(text, modalityLengths, batchSize, random);
        var leftover = imageBatches[^1].Concat(textBatches[^1]).Order().ToArray();
        var full = imageBatches[..^1].Concat(textBatches[..^1]).ToArray();
        random.Shuffle(full);
        return full.SelectMany(b => b).Concat(leftover).ToArray();
    }

    /// <summary>The order for packing by image (<see cref="ImagePacking"/>), as groups: each image's samples in a
    /// seeded order, cut into groups of at most <paramref name="groupSize"/>, and the groups in a seeded shuffle; a
    /// text-only sample (null path) is a group of one. Batches cut from the flattened groups hold a group's samples
    /// together, so they share a row; smaller groups spread an image's questions over more batches (more images per
    /// batch).</summary>
    public static int[][] ImageGroups(IReadOnlyList<string?> imagePaths, int groupSize, int seed, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(groupSize, 1);
        var random = new Random(StreamSeed(seed, epoch, stream: 4));
        var groups = Enumerable.Range(0, imagePaths.Count)
            .GroupBy(i => imagePaths[i] ?? $"\0text-only {i}", StringComparer.Ordinal)
            .SelectMany(image =>
            {
                var members = image.ToArray();
                random.Shuffle(members);
                return members.Chunk(groupSize);
            })
            .ToArray();
        random.Shuffle(groups);
        return groups;
    }

    /// <summary>A rank's share of a global batch in data-parallel training: every <paramref name="worldSize"/>-th
    /// sample from position <paramref name="rank"/> on. Ranks together train exactly the samples one process would
    /// train with the global batch (so N ranks x B equals one process x N·B), and length-sorted batches spread their
    /// long samples over the ranks. The last batch of an epoch is shared the same way: nothing is dropped or repeated,
    /// ranks may get one sample fewer than others, or none (an empty batch that still takes part in the step).
    /// With <paramref name="unitKey"/> (packing by image), consecutive samples with the same key are one unit and the
    /// units are dealt out instead, so an image's questions stay on one rank and its image is encoded once.</summary>
    public static int[] RankShare(int[] globalBatch, int rank, int worldSize, Func<int, string?>? unitKey = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, worldSize);
        if (unitKey is null) return globalBatch.Where((_, position) => position % worldSize == rank).ToArray();
        var units = new List<List<int>>();
        foreach (var sample in globalBatch)
        {
            var key = unitKey(sample);
            if (units.Count > 0 && key is not null && key == unitKey(units[^1][0])) units[^1].Add(sample);
            else units.Add([sample]);
        }
        return units.Where((_, position) => position % worldSize == rank).SelectMany(u => u).ToArray();
    }

    /// <summary>A seed for one random stream of one epoch. Deliberately not HashCode.Combine, which is salted per
    /// process and would change the order between a run and its resumption.</summary>
    internal static int StreamSeed(int seed, int epoch, int stream) =>
        unchecked((int)(((uint)seed * 2654435761u) ^ ((uint)epoch * 40503u + (uint)stream * 2246822519u)));

    static int[][] LengthGroupedBatches(int[] indices, IReadOnlyList<int> lengths, int batchSize, Random random)
    {
        var shuffled = (int[])indices.Clone();
        random.Shuffle(shuffled);
        return shuffled.Chunk(batchSize)
            .Select(batch => batch.OrderByDescending(i => Math.Abs(lengths[i])).ToArray())
            .ToArray();
    }
}
