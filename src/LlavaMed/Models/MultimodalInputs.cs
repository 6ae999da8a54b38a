using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>Which end of a row the padding goes to. Training pads right; batched generation pads left so
/// every row's last position is a real token.</summary>
public enum PaddingSide { Right, Left }

/// <summary>What the decoder consumes after the image features are spliced into the text embeddings.</summary>
/// <param name="InputsEmbeds">[B, T, D]</param>
/// <param name="AttentionMask">[B, T] int64, 1 for real positions, 0 for padding; packed rows hold segment ids
/// (<see cref="PackedSegments"/>)</param>
/// <param name="PositionIds">[B, T] int64, 0.. over each row's real positions (0 on padding; in packed rows each
/// segment continues from the shared prefix)</param>
/// <param name="Labels">[B, T] int64 with -100 on image, padding and unsupervised positions; null for inference</param>
/// <param name="TruncatedRows">rows longer than tokenizer_model_max_length, cut to it (counted, not silent)</param>
public sealed record MultimodalInputs(Tensor InputsEmbeds, Tensor AttentionMask, Tensor PositionIds, Tensor? Labels,
                                      int TruncatedRows) : IDisposable
{
    /// <summary>The rows of <see cref="Labels"/> on the host (the splice builds them there), so that the training loss
    /// and the trainer count supervised tokens without reading the device back; null when there are no labels.</summary>
    public IReadOnlyList<long[]>? HostLabels { get; init; }

    /// <summary>Whether <see cref="AttentionMask"/> holds padding or packed segments, known on the host.</summary>
    public AttentionMask.Layout? MaskLayout { get; init; }

    public long BatchSize => InputsEmbeds.shape[0];
    public long Length => InputsEmbeds.shape[1];

    public void Dispose()
    {
        InputsEmbeds.Dispose();
        AttentionMask.Dispose();
        PositionIds.Dispose();
        Labels?.Dispose();
    }
}

/// <summary>Token ids of v1.0's image tokens, read from the tokenizer's added_tokens.json.</summary>
public sealed record ImagePatchTokenIds(long Patch, long Start, long End);
