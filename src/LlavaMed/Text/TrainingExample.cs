using System.Collections.Immutable;

namespace LlavaMed.Text;

/// <summary>A tokenized supervised example: the model reads <see cref="InputIds"/> and is trained on the
/// <see cref="Labels"/> that are not <see cref="IgnoreIndex"/>.</summary>
/// <param name="Prompt">The text that was tokenized.</param>
/// <param name="Mismatch">Set when LLaVA's length check failed; the labels are then all ignored, as in the
/// reference (which prints "WARNING: tokenization mismatch" instead).</param>
/// <param name="Truncated">The ids were cut to the maximum length.</param>
public sealed record TrainingExample(
    string Prompt,
    ImmutableArray<long> InputIds,
    ImmutableArray<long> Labels,
    TokenizationMismatch? Mismatch,
    bool Truncated)
{
    /// <summary>LLaVA's IGNORE_INDEX: the cross-entropy skips these positions.</summary>
    public const long IgnoreIndex = -100;

    public bool IsMismatch => Mismatch is not null;

    /// <summary>How many positions are supervised.</summary>
    public int SupervisedCount => Labels.Count(l => l != IgnoreIndex);
}
