using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>Attention over packed rows (<see cref="PackedSegments"/>) computed segment by segment instead of over
/// the whole row with a mask: a row of a prefix and K segments of length L costs (prefix + K L)² scores with
/// <see cref="AttentionMask"/>, of which all but prefix² + K L (prefix + L) are masked out; stage 3's rows (16
/// questions on one image) spend most of their step there. Each row becomes groups of queries with their keys:
/// the shared prefix (queries and keys: the prefix) and each segment (queries: the segment; keys: the prefix and the
/// segment), all padded to the longest group and run as one batch of attention with a small causal mask. Exact
/// in arithmetic (a masked score contributes exp(-huge) = 0 either way); only the order of the sums differs, so
/// results agree with the masked row to rounding (SegmentedAttentionTests).</summary>
public sealed class SegmentedAttention : IDisposable
{
    /// <summary>[groups · queries] flat positions (row · T + t) of each group's queries (padding slots: 0).</summary>
    public Tensor QueryIndex { get; }
    /// <summary>[groups · keys] flat positions of each group's keys (padding slots: 0, masked).</summary>
    public Tensor KeyIndex { get; }
    /// <summary>[groups, 1, queries, keys] additive mask: 0 where a query sees a key (causal within the row).</summary>
    public Tensor Mask { get; }
    /// <summary>[B · T] the slot (group · queries + query) whose output each position takes; padding positions take
    /// the extra zero slot after the last group.</summary>
    public Tensor OutputIndex { get; }
    public long Groups { get; }
    public long Queries { get; }
    public long Keys { get; }

    SegmentedAttention(Tensor queryIndex, Tensor keyIndex, Tensor mask, Tensor outputIndex, long groups, long queries, long keys) =>
        (QueryIndex, KeyIndex, Mask, OutputIndex, Groups, Queries, Keys) = (queryIndex, keyIndex, mask, outputIndex, groups, queries, keys);

    /// <summary>The layout of a batch whose attention mask holds segment ids, or null when no row is packed (plain
    /// rows keep the causal path, which is faster for them).</summary>
    /// <param name="attentionMask">[B, T] int64: <see cref="PackedSegments.Padding"/>, <see cref="PackedSegments.Shared"/>
    /// or segment ids</param>
    public static SegmentedAttention? Build(Tensor attentionMask, ScalarType dtype)
    {
        long batch = attentionMask.shape[0], length = attentionMask.shape[1];
        using var onHost = attentionMask.to(int64, CPU);
        var values = onHost.data<long>().ToArray();
        if (!values.Any(v => v >= PackedSegments.FirstSegment)) return null;

        // Each group: (row, query positions, key positions), positions within the row.
        var groups = new List<(long Row, List<int> Queries, List<int> Keys)>();
        for (long row = 0; row < batch; row++)
        {
            var prefix = new List<int>();
            var segments = new List<List<int>>();
            long current = PackedSegments.Shared;
            for (int t = 0; t < length; t++)
            {
                var id = values[row * length + t];
                if (id == PackedSegments.Padding) continue;
                if (id == PackedSegments.Shared) { prefix.Add(t); continue; }
                if (id != current || segments.Count == 0) { segments.Add([]); current = id; }
                segments[^1].Add(t);
            }
            if (prefix.Count > 0) groups.Add((row, prefix, prefix));
            foreach (var segment in segments) groups.Add((row, segment, [.. prefix, .. segment]));
        }
        int queries = groups.Max(g => g.Queries.Count), keys = groups.Max(g => g.Keys.Count);
        var queryIndex = new long[groups.Count * queries];
        var keyIndex = new long[groups.Count * keys];
        var queryPositions = new long[groups.Count * queries];
        var keyPositions = new long[groups.Count * keys];
        Array.Fill(queryPositions, long.MaxValue - 1); // a padding query sees every real key of its group
        Array.Fill(keyPositions, long.MaxValue); // a padding key is seen by no query
        var outputIndex = new long[batch * length];
        Array.Fill(outputIndex, (long)groups.Count * queries); // the zero slot
        for (int g = 0; g < groups.Count; g++)
        {
            var (row, groupQueries, groupKeys) = groups[g];
            for (int i = 0; i < groupQueries.Count; i++)
            {
                queryIndex[g * queries + i] = row * length + groupQueries[i];
                queryPositions[g * queries + i] = groupQueries[i];
                outputIndex[row * length + groupQueries[i]] = g * queries + i;
            }
            for (int j = 0; j < groupKeys.Count; j++)
            {
                keyIndex[g * keys + j] = row * length + groupKeys[j];
                keyPositions[g * keys + j] = groupKeys[j];
            }
        }
        var device = attentionMask.device;
        using var scope = NewDisposeScope();
        var allowed = tensor(keyPositions, [groups.Count, 1, keys], device: device)
            .le(tensor(queryPositions, [groups.Count, queries, 1], device: device)); // [G, Q, K]
        var negative = AttentionMask.MostNegative(dtype);
        using var fill = negative.ToScalar(); // explicit Scalars: see TensorArithmetic
        var mask = zeros([groups.Count, queries, keys], dtype: dtype, device: device).masked_fill(allowed.logical_not(), fill).unsqueeze(1);
        return new SegmentedAttention(tensor(queryIndex, device: device).DetachFromDisposeScope(),
                                      tensor(keyIndex, device: device).DetachFromDisposeScope(),
                                      mask.DetachFromDisposeScope(), tensor(outputIndex, device: device).DetachFromDisposeScope(),
                                      groups.Count, queries, keys);
    }

    /// <summary>Attention of rotated queries [B, H, T, hd] over keys and values [B, H, T, hd] (heads already
    /// repeated for grouped-query attention): [B, T, H · hd].</summary>
    public Tensor Attend(Tensor query, Tensor key, Tensor value)
    {
        using var scope = NewDisposeScope();
        long batch = query.shape[0], heads = query.shape[1], length = query.shape[2], headDim = query.shape[3];
        Tensor Gather(Tensor x, Tensor index, long count) =>
            x.transpose(1, 2).reshape(batch * length, heads, headDim).index_select(0, index)
             .view(Groups, count, heads, headDim).transpose(1, 2); // [G, H, count, hd]
        var attended = nn.functional.scaled_dot_product_attention(Gather(query, QueryIndex, Queries), Gather(key, KeyIndex, Keys),
                                                                  Gather(value, KeyIndex, Keys), Mask);
        var slots = attended.transpose(1, 2).reshape(Groups * Queries, heads * headDim);
        var withZeroSlot = cat([slots, zeros([1, heads * headDim], dtype: slots.dtype, device: slots.device)], 0);
        return withZeroSlot.index_select(0, OutputIndex).view(batch, length, heads * headDim).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        QueryIndex.Dispose();
        KeyIndex.Dispose();
        Mask.Dispose();
        OutputIndex.Dispose();
    }
}
