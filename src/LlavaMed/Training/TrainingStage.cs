using System.Text.Json.Nodes;
using LlavaMed.Text;
using TorchSharp;

namespace LlavaMed.Training;

/// <summary>Which parameters a stage trains; everything else is frozen explicitly (requires_grad false).</summary>
public enum TrainableSet
{
    /// <summary>Stage 1, concept alignment: only the projector (LLaVA's <c>tune_mm_mlp_adapter</c>).</summary>
    Projector,
    /// <summary>Stages 2 and 3: projector and language model; the vision tower stays frozen.</summary>
    ProjectorAndLanguageModel,
}

/// <summary>LoRA on the language model's linear layers: W + (alpha / rank) B A, merged into W when saved.
/// <see cref="TargetModules"/> are module names (<c>q_proj</c>) or name tails (<c>self_attn.q_proj</c>) of a
/// decoder layer's linear layers; the default is LLaVA's recipe, all of them.</summary>
public sealed record LoraOptions(int Rank, double Alpha = 16, double Dropout = 0.05,
                                 IReadOnlyList<string>? TargetModules = null)
{
    /// <summary>The linear layers of a decoder layer (<see cref="Models.DecoderLayer"/>), by path inside it.</summary>
    public static readonly IReadOnlyList<string> DecoderLayerLinears =
        ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
    public static readonly IReadOnlyList<string> DefaultTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
    public IReadOnlyList<string> Targets => TargetModules ?? DefaultTargets;

    /// <summary>Whether module <paramref name="name"/> is target <paramref name="target"/>: its name, or a tail of
    /// its path (PEFT's <c>target_modules</c> suffix rule).</summary>
    public static bool Matches(string name, string target) =>
        name == target || name.EndsWith("." + target, StringComparison.Ordinal);

    /// <summary>Checks rank, alpha, dropout and that every target names a decoder linear layer, without a model:
    /// a bad setting fails before anything is loaded or written.</summary>
    public void Validate()
    {
        if (Rank <= 0) throw new ArgumentException($"LoRA rank must be positive, got {Rank}");
        if (!(Alpha > 0)) throw new ArgumentException($"LoRA alpha must be positive, got {Alpha}");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"LoRA dropout must be in [0, 1), got {Dropout}");
        var unmatched = Targets.Where(t => !DecoderLayerLinears.Any(l => Matches(l, t))).ToList();
        if (Targets.Count == 0 || unmatched.Count > 0)
            throw new ArgumentException(unmatched.Count == 1
                ? $"LoRA target {unmatched[0]} matches no linear layer of the language model (layers: {string.Join(", ", DefaultTargets)})"
                : $"LoRA targets {string.Join(", ", unmatched.DefaultIfEmpty("(none)"))} match no linear layer of the language model (layers: "
                    + $"{string.Join(", ", DefaultTargets)})");
    }
}

/// <summary>A curriculum stage as a value: data, template, trainable set, optimiser and schedule, where it starts
/// from and where it writes. The paper's stages and the workbench's scales are presets (<c>Curriculum/CurriculumPresets.cs</c>).</summary>
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
    /// <summary>The dtype the model is loaded and trained in. bfloat16 trains mixed precision: float32 LoRA adapters,
    /// float32 master weights and Adam moments for the bf16 parameters it trains, float32 RMSNorm and loss.</summary>
    public torch.ScalarType Dtype { get; init; } = torch.ScalarType.Float32;
    /// <summary>Keep only each decoder and CLIP layer's input in the forward and recompute the layer in the backward
    /// (the same gradients, about one more forward of compute, activations of one layer instead of all).</summary>
    public bool GradientCheckpointing { get; init; }
    /// <summary>Also write loss and learning rate as TensorBoard event files under <c>OutputDir/tensorboard</c>.</summary>
    public bool TensorBoard { get; init; } = true;
    /// <summary>ZeRO-1 in data-parallel runs: each rank keeps only its shard of the optimiser state (float32 master
    /// weights and both Adam moments; <see cref="ZeroAdamWOptimizer"/>). Same updates, 1/N of the optimiser memory.</summary>
    public bool ShardOptimizerState { get; init; }
    /// <summary>Where the model trains (default: the CPU).</summary>
    public TorchSharp.torch.Device? Device { get; init; }

    public int GlobalBatchSize => BatchSize * GradientAccumulation;

    /// <summary>The file in <see cref="OutputDir"/> that records the values a stage ran with (<see cref="ToJson"/>),
    /// as Hugging Face's Trainer records its <c>training_args</c>.</summary>
    public const string ArgumentsFile = "stage_args.json";

    /// <summary>Every effective value of the stage, under the names of LLaVA's <c>train.py</c> arguments where it has
    /// one; <paramref name="worldSize"/> is the number of data-parallel ranks it ran on.</summary>
    public JsonObject ToJson(int worldSize = 1) => new()
    {
        ["stage"] = Name, ["data_path"] = DataPath, ["image_folder"] = ImageRoot, ["init_from"] = InitFrom,
        ["tokenizer"] = TokenizerFolder ?? InitFrom, ["output_dir"] = OutputDir, ["version"] = Template.Name,
        ["trainable"] = Trainable == TrainableSet.Projector ? "projector" : "projector and language model",
        ["num_train_epochs"] = Epochs, ["learning_rate"] = LearningRate, ["mm_projector_lr"] = ProjectorLearningRate,
        ["weight_decay"] = WeightDecay, ["warmup_ratio"] = WarmupRatio, ["lr_scheduler_type"] = "cosine",
        ["per_device_train_batch_size"] = BatchSize, ["gradient_accumulation_steps"] = GradientAccumulation, ["world_size"] = worldSize,
        ["max_grad_norm"] = MaxGradNorm, ["model_max_length"] = MaxLength, ["seed"] = Seed,
        ["group_by_modality_length"] = GroupByModalityLength, ["pack_per_image"] = PackPerImage,
        ["save_steps"] = SaveEverySteps, ["save_total_limit"] = KeepLastCheckpoints,
        ["lora_r"] = Lora?.Rank, ["lora_alpha"] = Lora?.Alpha, ["lora_dropout"] = Lora?.Dropout,
        ["lora_target_modules"] = Lora is null ? null : new JsonArray(Lora.Targets.Select(t => (JsonNode?)t).ToArray()),
        ["dtype"] = Models.PlacementPlanner.Name(Dtype), ["device"] = Models.PlacementPlanner.DeviceName(Device ?? torch.CPU),
        ["gradient_checkpointing"] = GradientCheckpointing, ["zero1"] = ShardOptimizerState,
    };
}
