using System.Globalization;

namespace LlavaMed.Curriculum;

/// <summary>What the curriculum starts from: LLaVA-Med's "from LLaVA" and "from Vicuna" rows.</summary>
public enum StartingPoint
{
    /// <summary>The general-domain LLaVA that <see cref="StartingModelBuilder"/> makes: pretrained tower and language
    /// model, projector aligned and the model instruction-tuned on the general scenes.</summary>
    General,

    /// <summary>The pretrained tower and language model alone, the projector freshly initialised: no general-domain
    /// alignment or instruction tuning (the paper's start from Vicuna).</summary>
    BareLanguageModel,
}

/// <summary>One curriculum of an ablation grid: how it differs from the default curriculum along the paper's ablation
/// axes (stage-1 epochs; instruction data with or without inline mentions, or a subset; image resolution; projector;
/// starting point). Every property's default is the curriculum itself, so <see cref="Default"/> changes nothing.</summary>
public sealed record CurriculumVariant
{
    public const string DefaultName = "default";

    public string Name { get; init; } = DefaultName;

    /// <summary>A row label for tables (e.g. the paper's "60K-IM"); <see cref="Name"/> when unset.</summary>
    public string? Label { get; init; }

    /// <summary>Stage-1 (alignment) epochs; 0 skips stage 1, so stage 2 starts from the starting model. Null: the scale's.</summary>
    public int? Stage1Epochs { get; init; }

    /// <summary>Whether the self-instruct requests show the figure's inline mentions (the paper's 60K-IM data) or only
    /// its caption (60K).</summary>
    public bool InlineMentions { get; init; }

    /// <summary>The share of the training figures that get instruction conversations: 1 for all of them, 1/6 for a
    /// "10K-style" subset (the paper's 10K of 60K), chosen by <c>SelfInstructGenerator.Subset</c>.</summary>
    public double InstructionFraction { get; init; } = 1;

    /// <summary>Multiplies the image size, both the rendered corpus images and the vision tower's input, with the patch
    /// size kept (so more image tokens), as LLaVA-1.5's 224 to 336 px is 1.5.</summary>
    public double ImageSizeFactor { get; init; } = 1;

    /// <summary>LLaVA's <c>mm_projector_type</c> (<c>linear</c>, <c>mlp2x_gelu</c>); null: the scale's.</summary>
    public string? ProjectorType { get; init; }

    public StartingPoint Start { get; init; } = StartingPoint.General;

    public static CurriculumVariant Default { get; } = new();

    public string DisplayLabel => Label ?? Name;

    /// <summary>The ablation axes: <see cref="Axes"/> names the ones a variant changes.</summary>
    public const string Stage1Axis = "stage-1 epochs", InstructionAxis = "instruction data", ResolutionAxis = "resolution",
                        ProjectorAxis = "projector", StartAxis = "starting point";

    public static readonly IReadOnlyList<string> AllAxes = [Stage1Axis, InstructionAxis, ResolutionAxis, ProjectorAxis, StartAxis];

    /// <summary>The axes on which this variant differs from the default curriculum (none for the default).</summary>
    public IReadOnlyList<string> Axes => AllAxes.Where(axis => axis switch
    {
        Stage1Axis => Stage1Epochs is not null,
        InstructionAxis => InlineMentions || InstructionFraction != 1,
        ResolutionAxis => ImageSizeFactor != 1,
        ProjectorAxis => ProjectorType is not null,
        _ => Start != StartingPoint.General,
    }).ToList();

    /// <summary>The scale this variant runs at: <paramref name="scale"/> with its stage-1 epochs, image sizes and
    /// projector replaced. The default variant returns an equal scale.</summary>
    public CurriculumScale Apply(CurriculumScale scale)
    {
        if (Stage1Epochs < 0) throw new ArgumentException($"variant '{Name}': stage-1 epochs must not be negative (got {Stage1Epochs})");
        if (!(ImageSizeFactor > 0)) throw new ArgumentException($"variant '{Name}': the image size factor must be positive (got {ImageSizeFactor})");
        var imageSize = scale.ImageSize * ImageSizeFactor;
        if (Math.Abs(imageSize - Math.Round(imageSize)) > 1e-6 || Math.Round(imageSize) % scale.PatchSize != 0)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"variant '{Name}': image size factor {ImageSizeFactor} gives {imageSize:0.##} px at the {scale.Name} scale ({scale.ImageSize} px), "
                + $"which is not a multiple of the patch size {scale.PatchSize}"));
        return scale with
        {
            AlignmentEpochs = Stage1Epochs ?? scale.AlignmentEpochs,
            ImageSize = (int)Math.Round(imageSize),
            Corpus = scale.Corpus with { ImageSize = (int)Math.Round(scale.Corpus.ImageSize * ImageSizeFactor) },
            ProjectorType = ProjectorType ?? scale.ProjectorType,
        };
    }

    /// <summary>How the instruction data is written: "captions" or "captions + inline mentions".</summary>
    public string InstructionData => InlineMentions ? "captions + inline mentions" : "captions";

    /// <summary>The starting point in the paper's words.</summary>
    public string StartDescription => Start == StartingPoint.General
        ? "general model (from LLaVA)"
        : "bare language model (from Vicuna)";

    /// <summary>One line saying what differs from the default curriculum at <paramref name="scale"/> (the base scale).</summary>
    public string Describe(CurriculumScale scale)
    {
        var applied = Apply(scale);
        var parts = Axes.Select(axis => axis switch
        {
            Stage1Axis => Stage1Epochs == 0 ? "stage 1 skipped (0 epochs)" : $"stage 1: {Stage1Epochs} epochs",
            InstructionAxis => $"instruction data: {InstructionData}"
                               + (InstructionFraction != 1 ? string.Create(CultureInfo.InvariantCulture, $", {InstructionFraction:0.###} of the figures") : ""),
            ResolutionAxis => $"images {applied.ImageSize} px (patch {applied.PatchSize}; corpus rendered at {applied.Corpus.ImageSize} px)",
            ProjectorAxis => $"projector {applied.ProjectorType}",
            _ => $"start: {StartDescription}: pretrained tower and language model, projector untrained, no general-domain alignment or instruction tuning",
        }).ToList();
        return parts.Count == 0 ? "the default curriculum" : string.Join("; ", parts);
    }
}
