using LlavaMed.Data.Synthetic;
using LlavaMed.Images;
using LlavaMed.Models;

namespace LlavaMed.Curriculum;

/// <summary>What a <see cref="CurriculumRun"/> does: where it writes, the seed, and the scale (full or quick).
/// <see cref="VqaRoot"/> names a VQA-RAD folder (trainset.json, testset.json, images/) for stage 3 and its
/// evaluation instead of the synthetic VQA split. <see cref="Variant"/> changes the curriculum for an ablation
/// (the default is the curriculum itself).</summary>
public sealed record CurriculumOptions
{
    public required string OutputDir { get; init; }
    public int Seed { get; init; }
    public bool Quick { get; init; }
    /// <summary>Where the generated corpus is cached (default: the workbench cache).</summary>
    public string? CacheFolder { get; init; }
    public string? VqaRoot { get; init; }
    /// <summary>dtype and device of the stages and evaluations (the starting model is built in float32 on the CPU).
    /// Every model folder's meta.json records the dtype it was written in.</summary>
    public Checkpoints.LoadOptions Load { get; init; } = new();
    /// <summary>The scale before the variant's changes (default: <see cref="CurriculumScale.Full"/>, or
    /// <see cref="CurriculumScale.QuickRun"/> with <see cref="Quick"/>).</summary>
    public CurriculumScale? BaseScale { get; init; }
    public CurriculumVariant Variant { get; init; } = CurriculumVariant.Default;
    /// <summary>A starting-model folder shared between runs (<see cref="StartingModelBuilder.Key"/> names what must match):
    /// reused when it holds a finished build, built there otherwise. Without it the run builds its own
    /// <c>{OutputDir}/starting-model</c>.</summary>
    public string? StartingModelFolder { get; init; }

    public CurriculumScale Scale => Variant.Apply(BaseScale ?? (Quick ? CurriculumScale.QuickRun : CurriculumScale.Full));
}
