using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>The additive attention mask of the decoder: causal, padding (keys whose attention-mask entry is 0)
/// and, for Mistral's optional sliding window, keys more than <c>window - 1</c> positions back.</summary>
public static class AttentionMask
{
    /// <summary>[B, 1, T, past+T] with 0 where attending is allowed and the dtype's most negative finite value
    /// elsewhere (finite, as Hugging Face uses, so fully padded rows give a uniform softmax instead of NaN).
    /// Returns null when plain causal attention suffices (no padding, no cache, no window).</summary>
    /// <param name="keyPaddingMask">[B, past+T], 1 for real tokens and 0 for padding; null when nothing is padded</param>
    public static Tensor? Build(Tensor? keyPaddingMask, long batch, long queryLength, long pastLength, int? slidingWindow,
                                ScalarType dtype, Device device)
    {
        bool anyPadding = keyPaddingMask is not null && keyPaddingMask.eq(0).any().item<bool>();
        bool windowMatters = slidingWindow is { } w && pastLength + queryLength > w;
        if (!anyPadding && pastLength == 0 && !windowMatters) return null;

        using var scope = NewDisposeScope();
        long keyLength = pastLength + queryLength;
        var queryPositions = arange(pastLength, keyLength, dtype: int64, device: device).unsqueeze(1); // [T, 1]
        var keyPositions = arange(0, keyLength, dtype: int64, device: device).unsqueeze(0); // [1, K]
        var allowed = keyPositions.le(queryPositions); // causal
        if (slidingWindow is { } window) allowed = allowed.logical_and(keyPositions.gt(queryPositions - window));
        var allowedPerRow = allowed.unsqueeze(0).expand(batch, queryLength, keyLength);
        if (anyPadding) allowedPerRow = allowedPerRow.logical_and(keyPaddingMask!.ne(0).unsqueeze(1));
        var negative = dtype == bfloat16 ? -3.3895313892515355e38 : dtype == float16 ? -65504.0 : float.MinValue;
        using var fill = negative.ToScalar(); // disposed after use, never by the finalizer: see RmsNorm
        var mask = zeros(batch, queryLength, keyLength, dtype: dtype, device: device)
            .masked_fill(allowedPerRow.logical_not(), fill);
        return mask.unsqueeze(1).MoveToOuterDisposeScope();
    }
}
