using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlavaMed.Checkpoints;
using LlavaMed.Data;
using LlavaMed.Inference;
using LlavaMed.Tests.Cli;
using LlavaMed.Text;
using LlavaMed.Training;
using LlavaMed.Workbench;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Training;

/// <summary><c>llava-med export llava-train</c> against the reference formats: haotian-liu/LLaVA's
/// <c>llava/train/train.py</c> argument dataclasses, its <c>scripts/zero3.json</c> and LLaVA's conversation JSON.</summary>
public sealed class LlavaTrainerExportTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-export-").FullName;
    readonly DemoCheckpoint demo;
    readonly string dataPath;

    // ModelArguments, DataArguments and TrainingArguments of LLaVA's train.py (its own fields and the transformers
    // TrainingArguments that finetune.sh passes).
    static readonly HashSet<string> TrainPyArguments =
    [
        "model_name_or_path", "version", "freeze_backbone", "tune_mm_mlp_adapter", "vision_tower", "mm_vision_select_layer",
        "pretrain_mm_mlp_adapter", "mm_projector_type", "mm_use_im_start_end", "mm_use_im_patch_token", "mm_vision_select_feature",
        "data_path", "lazy_preprocess", "is_multimodal", "image_folder", "image_aspect_ratio", "image_grid_pinpoints",
        "cache_dir", "optim", "remove_unused_columns", "freeze_mm_mlp_adapter", "mpt_attn_impl", "model_max_length", "double_quant",
        "quant_type", "bits", "lora_enable", "lora_r", "lora_alpha", "lora_dropout", "lora_weight_path", "lora_bias", "mm_projector_lr",
        "group_by_modality_length",
        "deepspeed", "bf16", "output_dir", "num_train_epochs", "per_device_train_batch_size", "per_device_eval_batch_size",
        "gradient_accumulation_steps", "evaluation_strategy", "save_strategy", "save_steps", "save_total_limit", "learning_rate",
        "weight_decay", "warmup_ratio", "lr_scheduler_type", "max_grad_norm", "seed", "logging_steps", "tf32", "gradient_checkpointing",
        "dataloader_num_workers", "report_to",
    ];

    public LlavaTrainerExportTests()
    {
        demo = DemoCheckpoint.EnsureCreated(Path.Combine(temporary, "demo"));
        dataPath = Path.Combine(temporary, "train.json");
        var samples = Enumerable.Range(0, 4).Select(i => new LlavaSample($"q{i}", i == 3 ? null : Path.GetFileName(demo.ImagePath),
            [ConversationTurn.Human(i == 3 ? "What is a nodule?" : "<image>\nIs there an effusion?"), ConversationTurn.Gpt(i % 2 == 0 ? "yes" : "no")]).ToJson());
        File.WriteAllText(dataPath, new JsonArray(samples.ToArray()).ToJsonString());
    }

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    [Fact]
    public void WritesDataImagesModelLaunchScriptAndZero3ConfigAsLlavasTrainerTakesThem()
    {
        var output = Path.Combine(temporary, "export");
        var (exitCode, _, error) = CliRunner.Run("export", "llava-train", "--stage", "downstream", "--init", demo.ModelFolder, "--data", dataPath,
                                                  "--image-root", demo.ModelFolder, "--out", output, "--epochs", "3", "--batch-size", "4",
                                                  "--grad-accum", "2", "--lr", "3e-5", "--gpus", "8");
        Assert.True(exitCode == 0, error);

        // launch.sh: deepspeed train_mem.py with only arguments train.py declares, carrying the stage's values.
        var script = File.ReadAllText(Path.Combine(output, "launch.sh"));
        Assert.Contains("deepspeed --num_gpus 8 ", script);
        Assert.Contains("/llava/train/train_mem.py", script);
        var arguments = Regex.Matches(script, @"--(\w+) (\S+)").Where(m => m.Groups[1].Value != "num_gpus")
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim('"'));
        Assert.Empty(arguments.Keys.Except(TrainPyArguments));
        Assert.Equal("./zero3.json", arguments["deepspeed"]);
        Assert.Equal("mistral_instruct", arguments["version"]);
        Assert.Equal("3", arguments["num_train_epochs"]);
        Assert.Equal("4", arguments["per_device_train_batch_size"]);
        Assert.Equal("2", arguments["gradient_accumulation_steps"]);
        Assert.Equal(3e-5, double.Parse(arguments["learning_rate"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("cosine", arguments["lr_scheduler_type"]);
        Assert.Equal("0.03", arguments["warmup_ratio"]);
        Assert.False(arguments.ContainsKey("tune_mm_mlp_adapter")); // stage 3 trains the language model too

        // zero3.json: LLaVA's ZeRO-3 settings, batch sizes consistent with the script (DeepSpeed checks them).
        var zero = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "zero3.json")))!.AsObject();
        Assert.Equal(["bf16", "fp16", "gradient_accumulation_steps", "gradient_clipping", "train_batch_size", "train_micro_batch_size_per_gpu", "zero_optimization"],
                     zero.Select(p => p.Key).Order());
        Assert.Equal(3, zero["zero_optimization"]!["stage"]!.GetValue<int>());
        Assert.True(zero["zero_optimization"]!["stage3_gather_16bit_weights_on_model_save"]!.GetValue<bool>());
        Assert.Equal(4, zero["train_micro_batch_size_per_gpu"]!.GetValue<int>());
        Assert.Equal(2, zero["gradient_accumulation_steps"]!.GetValue<int>());
        Assert.Equal(4 * 2 * 8, zero["train_batch_size"]!.GetValue<int>());
        Assert.Equal(1.0, zero["gradient_clipping"]!.GetValue<double>());

        // The data: the same records, every image present under images/.
        var exported = LlavaSample.ReadJsonArray(Path.Combine(output, "data", "train.json"));
        Assert.Equal(LlavaSample.ReadJsonArray(dataPath).Select(s => s.ToJson().ToJsonString()), exported.Select(s => s.ToJson().ToJsonString()));
        Assert.All(exported.Where(s => s.Image is not null), s => Assert.True(File.Exists(Path.Combine(output, "images", s.Image!))));

        // The model loads strictly, and the tower's weights sit where --vision_tower reads them, with CLIP's names.
        using (var pipeline = LlavaPipeline.Load(Path.Combine(output, "model"))) Assert.NotNull(pipeline.Model);
        using var scope = NewDisposeScope();
        using var tower = CheckpointTensors.Open(Path.Combine(output, "model", "vision_tower", "model.safetensors"));
        using var source = CheckpointTensors.Open(demo.ModelFolder);
        var name = "vision_model.embeddings.patch_embedding.weight";
        Assert.True(tower.ReadTensor(name).equal(source.ReadTensor(CheckpointLoader.TowerPrefix + name)).all().item<bool>());
        Assert.True(File.Exists(Path.Combine(output, "model", "vision_tower", "config.json")));
    }

    [Fact]
    public void MissingImagesAndNonEmptyFoldersAreErrorsThatWriteNothing()
    {
        var output = Path.Combine(temporary, "missing");
        var (exitCode, _, error) = CliRunner.Run("export", "llava-train", "--stage", "downstream", "--init", demo.ModelFolder, "--data", dataPath,
                                                  "--image-root", temporary, "--out", output);
        Assert.Equal(1, exitCode);
        Assert.Contains("images named in", error);
        Assert.False(Directory.Exists(output));
        Assert.False(Directory.Exists(output + ".tmp"));

        var (again, _, notEmpty) = CliRunner.Run("export", "llava-train", "--stage", "downstream", "--init", demo.ModelFolder, "--data", dataPath,
                                                 "--image-root", demo.ModelFolder, "--out", demo.ModelFolder);
        Assert.Equal(1, again);
        Assert.Contains("is not empty", notEmpty);
    }
}
