using LlavaMed.Text;

namespace LlavaMed.Training;

/// <summary>Which parameters a stage trains; everything else is frozen explicitly (requires_grad false).</summary>
public enum TrainableSet
{
    /// <summary>Stage 1, concept alignment: only the projector (LLaVA's <c>tune_mm_mlp_adapter</c>).</summary>
    Projector,
    /// <summary>Stages 2 and 3: projector and language model; the vision tower stays frozen.</summary>
    ProjectorAndLanguageModel,
}

/// <summary>LoRA on the language model's linear layers: W + (alpha / rank) B A, merged into W when saved.</summary>
public sealed record LoraOptions(int Rank, double Alpha = 16, double Dropout = 0.05,
                                 IReadOnlyList<string>? TargetModules = null)
{
    public static readonly IReadOnlyList<string> DefaultTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
    public IReadOnlyList<string> Targets => TargetModules ?? DefaultTargets;
}

/// <summary>A curriculum stage as a value: data, template, trainable set, optimiser and schedule, where it starts
/// from and where it writes. The factory methods carry the paper's hyper-parameters.</summary>
public sealed record TrainingStage
{
    public required string Name { get; init; }
    /// <summary>LLaVA conversation JSON (array) of the stage's training data.</summary>
    public required string DataPath { get; init; }
    public string? ImageRoot { get; init; }
    public required string InitFrom { get; init; }
    /// <summary>Tokenizer folder; default: <see cref="InitFrom"/>.</summary>
    public string? TokenizerFolder { get; init; }
    public required string OutputDir { get; init; }
    public ConversationTemplate Template { get; init; } = ConversationTemplate.MistralInstruct;
    public TrainableSet Trainable { get; init; } = TrainableSet.ProjectorAndLanguageModel;
    public int Epochs { get; init; } = 1;
    public double LearningRate { get; init; } = 2e-5;
    /// <summary>LLaVA's <c>mm_projector_lr</c>: a separate projector learning rate (null: the same).</summary>
    public double? ProjectorLearningRate { get; init; }
    public double WeightDecay { get; init; }
    public double WarmupRatio { get; init; } = 0.03;
    public int BatchSize { get; init; } = 16;
    /// <summary>Micro-batches summed before each optimiser step: global batch = BatchSize x this.</summary>
    public int GradientAccumulation { get; init; } = 1;
    public double MaxGradNorm { get; init; } = 1.0;
    public int MaxLength { get; init; } = 2048;
    public int Seed { get; init; } = 42;
    public bool GroupByModalityLength { get; init; } = true;
    /// <summary>When above 0, batches hold groups of up to this many samples on one image, and a batch's samples of
    /// one image are trained as one shared-prefix row (the image encoded once): the same loss as unpacked rows, less
    /// work when a data set asks several questions per image (VQA sets; see <see cref="Data.Batching.ImagePacking"/>).
    /// Batches still hold <see cref="BatchSize"/> samples; larger groups save more but put fewer images in a batch.</summary>
    public int PackPerImage { get; init; }
    /// <summary>Write a resumable checkpoint every this many optimiser steps (0: only at the end).</summary>
    public int SaveEverySteps { get; init; }
    public int KeepLastCheckpoints { get; init; } = 2;
    public LoraOptions? Lora { get; init; }
    /// <summary>Also write loss and learning rate as TensorBoard event files under <c>OutputDir/tensorboard</c>.</summary>
    public bool TensorBoard { get; init; } = true;
    /// <summary>ZeRO-1 in data-parallel runs: each rank keeps only its shard of the optimiser state (float32 master
    /// weights and both Adam moments; <see cref="ZeroAdamWOptimizer"/>). Same updates, 1/N of the optimiser memory.</summary>
    public bool ShardOptimizerState { get; init; }
    /// <summary>Parameter dtype of the trained model (float32 or bfloat16; TorchSharp has no autocast).</summary>
    public TorchSharp.torch.ScalarType Dtype { get; init; } = TorchSharp.torch.ScalarType.Float32;
    /// <summary>Where the model trains (default: the CPU).</summary>
    public TorchSharp.torch.Device? Device { get; init; }

    public int GlobalBatchSize => BatchSize * GradientAccumulation;

    /// <summary>Stage 1 as in the paper: projector only, 1 epoch, lr 2e-3, global batch 128, <c>plain</c> template.</summary>
    public static TrainingStage Alignment(string data, string imageRoot, string initFrom, string outputDir) => new()
    {
        Name = "alignment", DataPath = data, ImageRoot = imageRoot, InitFrom = initFrom, OutputDir = outputDir,
        Template = ConversationTemplate.Plain, Trainable = TrainableSet.Projector,
        Epochs = 1, LearningRate = 2e-3, BatchSize = 32, GradientAccumulation = 4,
    };

    /// <summary>Stage 2 as in the paper: projector + LM, 3 epochs, lr 2e-5.</summary>
    public static TrainingStage Instruction(string data, string imageRoot, string initFrom, string outputDir) => new()
    {
        Name = "instruction", DataPath = data, ImageRoot = imageRoot, InitFrom = initFrom, OutputDir = outputDir,
        Trainable = TrainableSet.ProjectorAndLanguageModel, Epochs = 3, LearningRate = 2e-5, BatchSize = 16, GradientAccumulation = 8,
    };

    /// <summary>Stage 3 as in the paper: projector + LM on a VQA set, lr 2e-5.</summary>
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
