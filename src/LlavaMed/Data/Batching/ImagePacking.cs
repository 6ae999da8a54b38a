using LlavaMed.Models;

namespace LlavaMed.Data.Batching;

/// <summary>One row of a training batch: a sample, or several samples of one image packed as a shared prefix and
/// one segment each (<see cref="PackedSegments"/>); <see cref="Segments"/> is null for a plain row.</summary>
public sealed record BatchRow(IReadOnlyList<string> Ids, long[] InputIds, long[] Labels, long[]? Segments, string? ImagePath)
{
    public bool HasImage => ImagePath is not null && InputIds.Contains(MultimodalSplice.ImageTokenIndex);

    public static BatchRow Plain(TokenizedSample sample) => new([sample.Id], sample.InputIds, sample.Labels, null, sample.ImagePath);
}

/// <summary>Packs the samples of a batch that ask about the same image into shared-prefix rows: the tokens all of
/// them begin with (template start and image placeholder) once, then each sample's remainder as its own segment.
/// A VQA set asks about ten questions per image, so this encodes each image once instead of ten times and drops
/// the repeated prefix, while every segment sees exactly what its sample sees alone (same tokens, positions and
/// visible context): the loss and its gradients equal those of the unpacked batch.</summary>
public static class ImagePacking
{
    /// <summary>The batch's rows, in the order of each image's first sample. <paramref name="maxRowTokens"/> caps a
    /// packed row's length in token ids (the image placeholder counts one); an image whose samples do not fit in
    /// one row gets several, each with the prefix.</summary>
    public static IReadOnlyList<BatchRow> Pack(IReadOnlyList<TokenizedSample> samples, int maxRowTokens)
    {
        var rows = new List<BatchRow>();
        foreach (var group in samples.GroupBy(s => s.ImagePath ?? $"\0text-only {s.Id}", StringComparer.Ordinal))
        {
            var members = group.ToList();
            int prefix = SharedPrefixLength(members);
            if (members.Count == 1 || prefix == 0)
            {
                rows.AddRange(members.Select(BatchRow.Plain));
                continue;
            }
            var pending = new List<TokenizedSample>();
            int length = prefix;
            foreach (var member in members)
            {
                int remainder = member.InputIds.Length - prefix;
                if (pending.Count > 0 && length + remainder > maxRowTokens)
                {
                    rows.Add(Row(pending, prefix));
                    pending.Clear();
                    length = prefix;
                }
                pending.Add(member);
                length += remainder;
            }
            rows.Add(Row(pending, prefix));
        }
        return rows;
    }

    /// <summary>How many leading tokens the samples share and may share: it must hold the image placeholder (each
    /// sample has exactly one) and stop before any sample's first supervised label, so that each remainder begins
    /// with an unsupervised token (what precedes a segment never predicts a label). 0 when they cannot share.</summary>
    internal static int SharedPrefixLength(IReadOnlyList<TokenizedSample> members)
    {
        if (members.Any(m => m.InputIds.Count(id => id == MultimodalSplice.ImageTokenIndex) != 1)) return 0;
        int length = members.Min(m => FirstSupervised(m) - 1);
        var first = members[0].InputIds;
        for (int i = 0; i < length; i++)
            if (members.Any(m => m.InputIds[i] != first[i])) { length = i; break; }
        return length > 0 && first.AsSpan(0, length).Contains(MultimodalSplice.ImageTokenIndex) ? length : 0;
    }

    static int FirstSupervised(TokenizedSample sample)
    {
        int index = Array.FindIndex(sample.Labels, label => label != MultimodalSplice.IgnoreIndex);
        return index < 0 ? sample.Labels.Length : index;
    }

    static BatchRow Row(IReadOnlyList<TokenizedSample> members, int prefix)
    {
        if (members.Count == 1) return BatchRow.Plain(members[0]);
        var ids = new List<long>(members[0].InputIds[..prefix]);
        var labels = new List<long>(members[0].Labels[..prefix]);
        var segments = new List<long>(Enumerable.Repeat(PackedSegments.Shared, prefix));
        for (int k = 0; k < members.Count; k++)
        {
            ids.AddRange(members[k].InputIds[prefix..]);
            labels.AddRange(members[k].Labels[prefix..]);
            segments.AddRange(Enumerable.Repeat(PackedSegments.FirstSegment + k, members[k].InputIds.Length - prefix));
        }
        return new BatchRow(members.Select(m => m.Id).ToArray(), ids.ToArray(), labels.ToArray(), segments.ToArray(), members[0].ImagePath);
    }
}
