using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>Builds decoder inputs from token ids and projected image features, with the semantics of LLaVA's
/// <c>prepare_inputs_labels_for_multimodal</c> (v1.5) and of v1.0's in-place patch-token replacement.</summary>
public static class MultimodalSplice
{
    public const long ImageTokenIndex = -200;
    public const long IgnoreIndex = -100;

    /// <summary>v1.5: every -200 placeholder is cut out and replaced by the next image's feature rows (label -100);
    /// images are consumed in order across the batch. Rows are truncated to <paramref name="maxLength"/>, then
    /// padded on <paramref name="side"/> with zero embeddings; positions count 0.. over each row's real tokens
    /// (see <see cref="PackedSegments"/> for packed rows).</summary>
    /// <param name="inputIds">unpadded rows of token ids</param>
    /// <param name="labels">per-row labels aligned with <paramref name="inputIds"/>, or null</param>
    /// <param name="imageFeatures">[images, N, D] projected features, or null when no row has a placeholder</param>
    /// <param name="embed">token ids [T] to embeddings [T, D]</param>
    /// <param name="segments">per-row segment ids aligned with <paramref name="inputIds"/> (packed rows), or null
    /// when every row is one sequence; an image's rows take its placeholder's segment</param>
    public static MultimodalInputs SplicePlaceholders(IReadOnlyList<long[]> inputIds, IReadOnlyList<long[]>? labels,
        Tensor? imageFeatures, Func<Tensor, Tensor> embed, int? maxLength, PaddingSide side, IReadOnlyList<long[]>? segments = null)
    {
        using var scope = NewDisposeScope();
        var rows = new List<SplicedRow>();
        int nextImage = 0;
        for (int row = 0; row < inputIds.Count; row++)
        {
            var ids = inputIds[row];
            var rowLabels = labels?[row] ?? Enumerable.Repeat(IgnoreIndex, ids.Length).ToArray();
            var rowSegments = RowSegments(segments, row, ids.Length);
            if (rowLabels.Length != ids.Length)
                throw new ArgumentException($"row {row}: {rowLabels.Length} labels for {ids.Length} tokens");
            var pieces = new List<Tensor>();
            var pieceLabels = new List<long>();
            var pieceSegments = new List<long>();
            int start = 0;
            for (int position = 0; position <= ids.Length; position++)
            {
                if (position < ids.Length && ids[position] != ImageTokenIndex) continue;
                var textIds = ids[start..position];
                if (textIds.Length > 0)
                {
                    pieces.Add(embed(tensor(textIds, device: DeviceOf(imageFeatures))));
                    pieceLabels.AddRange(rowLabels[start..position]);
                    pieceSegments.AddRange(rowSegments[start..position]);
                }
                if (position < ids.Length)
                {
                    if (imageFeatures is null || nextImage >= imageFeatures.shape[0])
                        throw new ArgumentException($"row {row}: image placeholder {nextImage + 1} has no image "
                                                    + $"({imageFeatures?.shape[0] ?? 0} given)");
                    var features = imageFeatures[nextImage++];
                    pieces.Add(features);
                    pieceLabels.AddRange(Enumerable.Repeat(IgnoreIndex, (int)features.shape[0]));
                    pieceSegments.AddRange(Enumerable.Repeat(rowSegments[position], (int)features.shape[0]));
                }
                start = position + 1;
            }
            var embeds = pieces.Count > 0 ? cat(pieces, 0) : embed(tensor(Array.Empty<long>(), device: DeviceOf(imageFeatures)));
            rows.Add(new(embeds, pieceLabels.ToArray(), pieceSegments.ToArray()));
        }
        if (imageFeatures is not null && nextImage != imageFeatures.shape[0])
            throw new ArgumentException($"{imageFeatures.shape[0]} images given but the rows have {nextImage} placeholders");
        return Pad(rows, labels is not null, maxLength, side).MoveToOuter();
    }

    /// <summary>v1.0: the token ids already hold N <c>&lt;im_patch&gt;</c> ids per image (between
    /// <c>&lt;im_start&gt;</c> and <c>&lt;im_end&gt;</c> when used); their embedding rows are overwritten by the
    /// image's features, the length is unchanged, and start/end keep their learned embeddings.</summary>
    public static MultimodalInputs ReplacePatchTokens(IReadOnlyList<long[]> inputIds, IReadOnlyList<long[]>? labels,
        Tensor? imageFeatures, Func<Tensor, Tensor> embed, ImagePatchTokenIds tokens, bool useStartEnd,
        int? maxLength, PaddingSide side, IReadOnlyList<long[]>? segments = null)
    {
        using var scope = NewDisposeScope();
        var rows = new List<SplicedRow>();
        int nextImage = 0;
        for (int row = 0; row < inputIds.Count; row++)
        {
            var ids = inputIds[row];
            var rowLabels = (long[])(labels?[row] ?? Enumerable.Repeat(IgnoreIndex, ids.Length).ToArray()).Clone();
            var embeds = embed(tensor(ids, device: DeviceOf(imageFeatures)));
            foreach (var first in PatchRunStarts(ids, tokens, useStartEnd, row))
            {
                if (imageFeatures is null || nextImage >= imageFeatures.shape[0])
                    throw new ArgumentException($"row {row}: image tokens at {first} have no image");
                var features = imageFeatures[nextImage++];
                int count = (int)features.shape[0];
                if (first + count > ids.Length || ids[first..(first + count)].Any(id => id != tokens.Patch)
                    || (useStartEnd && (first + count >= ids.Length || ids[first + count] != tokens.End)))
                    throw new ArgumentException($"row {row}: expected {count} <im_patch> tokens"
                                                + (useStartEnd ? " then <im_end>" : "") + $" from position {first}");
                embeds = cat([embeds[..first], features.to(embeds.dtype), embeds[(first + count)..]], 0);
                Array.Fill(rowLabels, IgnoreIndex, first, count);
            }
            rows.Add(new(embeds, rowLabels, RowSegments(segments, row, ids.Length)));
        }
        if (imageFeatures is not null && nextImage != imageFeatures.shape[0])
            throw new ArgumentException($"{imageFeatures.shape[0]} images given but the rows hold {nextImage} image slots");
        return Pad(rows, labels is not null, maxLength, side).MoveToOuter();
    }

    static IEnumerable<int> PatchRunStarts(long[] ids, ImagePatchTokenIds tokens, bool useStartEnd, int row)
    {
        if (useStartEnd)
        {
            int starts = ids.Count(id => id == tokens.Start), ends = ids.Count(id => id == tokens.End);
            if (starts != ends)
                throw new ArgumentException($"row {row}: {starts} <im_start> but {ends} <im_end> tokens");
            for (int i = 0; i < ids.Length; i++)
                if (ids[i] == tokens.Start) yield return i + 1;
            yield break;
        }
        for (int i = 0; i < ids.Length; i++)
            if (ids[i] == tokens.Patch && (i == 0 || ids[i - 1] != tokens.Patch)) yield return i;
    }

    static Device? DeviceOf(Tensor? t) => t?.device;

    /// <summary>A row's segment ids: the given ones (checked against the row's length) or one sequence.</summary>
    static long[] RowSegments(IReadOnlyList<long[]>? segments, int row, int length)
    {
        if (segments is null) return Enumerable.Repeat(PackedSegments.Shared, length).ToArray();
        if (segments[row].Length != length)
            throw new ArgumentException($"row {row}: {segments[row].Length} segment ids for {length} tokens");
        return segments[row];
    }

    sealed record SplicedRow(Tensor Embeds, long[] Labels, long[] Segments);

    static MultimodalInputs Pad(List<SplicedRow> rows, bool withLabels, int? maxLength, PaddingSide side)
    {
        int truncated = 0;
        if (maxLength is { } limit)
            for (int i = 0; i < rows.Count; i++)
                if (rows[i].Labels.Length > limit)
                {
                    rows[i] = new(rows[i].Embeds[..limit], rows[i].Labels[..limit], rows[i].Segments[..limit]);
                    truncated++;
                }
        int batch = rows.Count, width = rows.Max(r => r.Labels.Length);
        long hidden = rows[0].Embeds.shape[1];
        var embeds = zeros(batch, width, hidden, dtype: rows[0].Embeds.dtype, device: rows[0].Embeds.device);
        var mask = new long[batch * width];
        var positions = new long[batch * width];
        var paddedLabels = Enumerable.Repeat(IgnoreIndex, batch * width).ToArray();
        for (int i = 0; i < batch; i++)
        {
            int length = rows[i].Labels.Length, offset = side == PaddingSide.Left ? width - length : 0;
            if (length == 0) continue;
            embeds[i, offset..(offset + length)] = rows[i].Embeds;
            var rowPositions = PackedSegments.Positions(rows[i].Segments, i);
            for (int j = 0; j < length; j++)
            {
                mask[i * width + offset + j] = rows[i].Segments[j];
                positions[i * width + offset + j] = rowPositions[j];
                paddedLabels[i * width + offset + j] = rows[i].Labels[j];
            }
        }
        var device = embeds.device;
        return new MultimodalInputs(embeds,
            tensor(mask, [batch, width], device: device),
            tensor(positions, [batch, width], device: device),
            withLabels ? tensor(paddedLabels, [batch, width], device: device) : null,
            truncated)
        {
            HostLabels = withLabels ? Rows(paddedLabels, batch, width) : null,
            MaskLayout = new AttentionMask.Layout(Padded: mask.Contains(0), Packed: mask.Any(segment => segment > PackedSegments.Shared)),
        };
    }

    /// <summary>A [rows, width] row-major array as its rows (empty rows when width is 0).</summary>
    internal static long[][] Rows(long[] values, int rows, int width) =>
        [.. Enumerable.Range(0, rows).Select(row => values[(row * width)..((row + 1) * width)])];

    static MultimodalInputs MoveToOuter(this MultimodalInputs inputs)
    {
        inputs.InputsEmbeds.MoveToOuterDisposeScope();
        inputs.AttentionMask.MoveToOuterDisposeScope();
        inputs.PositionIds.MoveToOuterDisposeScope();
        inputs.Labels?.MoveToOuterDisposeScope();
        return inputs;
    }
}
