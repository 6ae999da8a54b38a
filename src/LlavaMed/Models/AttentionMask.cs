using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>The additive attention mask of the decoder: causal, padding (keys whose attention-mask entry is 0),
/// packed segments (a query sees the shared prefix and its own segment: <see cref="PackedSegments"/>) and, for
/// Mistral's optional sliding window, keys more than <c>window - 1</c> positions back.</summary>
public static class AttentionMask
{
    /// <summary>What a key-padding mask holds, when the host knows it (the splice builds the mask there): padding
    /// (zeros) and packed segments (ids above <see cref="PackedSegments.Shared"/>). Given to <see cref="Build"/>, it
    /// spares two read-backs from the device per forward.</summary>
    public readonly record struct Layout(bool Padded, bool Packed);

    /// <summary>[B, 1, T, past+T] with 0 where attending is allowed and the dtype's most negative finite value
    /// elsewhere (finite, as Hugging Face uses, so fully padded rows give a uniform softmax instead of NaN).
    /// Returns null when plain causal attention suffices (no padding, no cache, no window).</summary>
    /// <param name="keyPaddingMask">[B, past+T], 1 for real tokens and 0 for padding (segment ids in packed rows);
    /// null when nothing is padded</param>
    /// <param name="layout">what <paramref name="keyPaddingMask"/> holds, if known; otherwise it is read from the device</param>
    public static Tensor? Build(Tensor? keyPaddingMask, long batch, long queryLength, long pastLength, int? slidingWindow,
                                ScalarType dtype, Device device, Layout? layout = null)
    {
        using var zero = 0L.ToScalar(); // explicit Scalars, disposed after use: see TensorArithmetic
        using var shared = PackedSegments.Shared.ToScalar();
        bool anyPadding = keyPaddingMask is not null && (layout?.Padded ?? keyPaddingMask.eq(zero).any().item<bool>());
        bool packed = keyPaddingMask is not null && (layout?.Packed ?? keyPaddingMask.gt(shared).any().item<bool>());
        bool windowMatters = slidingWindow is { } w && pastLength + queryLength > w;
        if (!anyPadding && !packed && pastLength == 0 && !windowMatters) return null;

        using var scope = NewDisposeScope();
        long keyLength = pastLength + queryLength;
        using var past = pastLength.ToScalar();
        using var end = keyLength.ToScalar();
        using var step = 1L.ToScalar();
        var queryPositions = arange(past, end, step, dtype: int64, device: device).unsqueeze(1); // [T, 1]
        var keyPositions = arange(zero, end, step, dtype: int64, device: device).unsqueeze(0); // [1, K]
        var allowed = keyPositions.le(queryPositions); // causal
        if (slidingWindow is { } window)
        {
            using var windowScalar = ((long)window).ToScalar();
            allowed = allowed.logical_and(keyPositions.gt(queryPositions.sub(windowScalar)));
        }
        var allowedPerRow = allowed.unsqueeze(0).expand(batch, queryLength, keyLength);
        if (anyPadding) allowedPerRow = allowedPerRow.logical_and(keyPaddingMask!.ne(zero).unsqueeze(1));
        if (packed)
        {
            var keySegments = keyPaddingMask!.unsqueeze(1); // [B, 1, K]
            var querySegments = keyPaddingMask[.., (int)pastLength..].unsqueeze(2); // [B, T, 1]
            allowedPerRow = allowedPerRow.logical_and(keySegments.eq(shared).logical_or(keySegments.eq(querySegments)));
        }
        using var fill = MostNegative(dtype).ToScalar();
        var mask = zeros(batch, queryLength, keyLength, dtype: dtype, device: device)
            .masked_fill(allowedPerRow.logical_not(), fill);
        return mask.unsqueeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>The rows of the attention mask at [B, Q] <paramref name="queries"/> (positions without a cache):
    /// [B, 1, Q, T], gathered from <paramref name="additiveMask"/> or, when that is null (plain causal), built.</summary>
    public static Tensor QueryRows(Tensor? additiveMask, Tensor queries, long length, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        long batch = queries.shape[0], count = queries.shape[1];
        if (additiveMask is not null)
            return additiveMask.gather(2, queries.view(batch, 1, count, 1).expand(-1, -1, -1, length)).MoveToOuterDisposeScope();
        using var zero = 0L.ToScalar(); // explicit Scalars, disposed after use: see TensorArithmetic
        using var end = length.ToScalar();
        using var step = 1L.ToScalar();
        var keyPositions = arange(zero, end, step, dtype: int64, device: queries.device).view(1, 1, length);
        var future = keyPositions.gt(queries.unsqueeze(2)); // [B, Q, T]
        using var fill = MostNegative(dtype).ToScalar();
        return zeros(batch, count, length, dtype: dtype, device: queries.device).masked_fill(future, fill).unsqueeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>The masked entries' value: the dtype's most negative finite number.</summary>
    static double MostNegative(ScalarType dtype) => dtype == bfloat16 ? -3.3895313892515355e38 : dtype == float16 ? -65504.0 : float.MinValue;
}
