using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;
using LlavaMed.Data;
using LlavaMed.Models;
using static TorchSharp.torch;

namespace LlavaMed.Training;

/// <summary>What <see cref="LlavaTrainerExport.Write"/> wrote.</summary>
public sealed record LlavaTrainerExportReport(string Folder, int Records, int Images, string LaunchScript, string DeepSpeedConfig,
                                              IReadOnlyList<string> TrainArguments);

/// <summary>Writes a stage the way the reference LLaVA trainer (haotian-liu/LLaVA's <c>llava/train/train_mem.py</c>
/// under DeepSpeed) takes it, for what this workbench's engine does not cover (ZeRO-3, CPU offload, hundreds of
/// GPUs): <c>data/train.json</c> (LLaVA conversation records) with the images they name under <c>images/</c>, the
/// starting checkpoint in the Hugging Face layout under <c>model/</c> (with the CLIP tower's weights in
/// <c>model/vision_tower/</c>, which <c>--vision_tower</c> loads), <c>launch.sh</c> with <c>train_mem.py</c>'s
/// arguments from the stage's hyper-parameters (as LLaVA's <c>scripts/v1_5/finetune.sh</c> lays them out), and
/// <c>zero3.json</c>, LLaVA's ZeRO-3 configuration with the batch sizes and clipping filled in. The trained result
/// (an HF LLaVA folder) loads back with <c>--init</c>.</summary>
public static class LlavaTrainerExport
{
    public const string LaunchScriptFile = "launch.sh";
    public const string DeepSpeedConfigFile = "zero3.json";

    /// <param name="gpus">GPUs the launch uses (DeepSpeed's <c>train_batch_size</c> = per-GPU batch x accumulation x GPUs).</param>
    public static LlavaTrainerExportReport Write(TrainingStage stage, string folder, int gpus)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(gpus, 1);
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            throw new IOException($"export folder {folder} is not empty");
        var samples = LlavaSample.ReadJsonArray(stage.DataPath);
        var imageRoot = stage.ImageRoot ?? Path.GetDirectoryName(Path.GetFullPath(stage.DataPath))!;
        var images = samples.Where(s => s.Image is not null).Select(s => s.Image!).Distinct(StringComparer.Ordinal).ToList();
        var missing = images.Where(i => !File.Exists(Path.Combine(imageRoot, i))).ToList();
        if (missing.Count > 0)
            throw new FileNotFoundException($"{missing.Count} images named in {stage.DataPath} are missing under {imageRoot}, e.g. {missing[0]}");
        var config = LlavaConfig.FromFolder(stage.InitFrom);

        // Written into a temporary folder renamed at the end: nothing half-written on failure.
        var temporary = Path.GetFullPath(folder).TrimEnd('/') + ".tmp";
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        Directory.CreateDirectory(Path.Combine(temporary, "data"));
        File.WriteAllText(Path.Combine(temporary, "data", "train.json"),
                          new JsonArray(samples.Select(s => (JsonNode)s.ToJson()).ToArray()).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        foreach (var image in images)
        {
            var target = Path.Combine(temporary, "images", image);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(imageRoot, image), target);
        }
        CopyModel(stage, Path.Combine(temporary, "model"));

        var arguments = TrainArguments(stage, config);
        File.WriteAllText(Path.Combine(temporary, LaunchScriptFile), LaunchScript(arguments, gpus));
        File.SetUnixFileMode(Path.Combine(temporary, LaunchScriptFile), (UnixFileMode)0b111_101_101);
        File.WriteAllText(Path.Combine(temporary, DeepSpeedConfigFile), DeepSpeedZero3(stage, gpus).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        if (Directory.Exists(folder)) Directory.Delete(folder);
        Directory.Move(temporary, folder);
        return new LlavaTrainerExportReport(folder, samples.Count, images.Count, Path.Combine(folder, LaunchScriptFile),
                                            Path.Combine(folder, DeepSpeedConfigFile), arguments.Select(a => a.Name).ToList());
    }

    /// <summary>The model folder's files (weights, configs, tokenizer; not training checkpoints) and the tower's
    /// weights under <c>vision_tower/</c> with CLIPVisionModel's names, so <c>--vision_tower</c> can load them.</summary>
    static void CopyModel(TrainingStage stage, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(stage.InitFrom))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        if (stage.TokenizerFolder is { } tokenizer)
            foreach (var file in Directory.GetFiles(tokenizer, "tokenizer*").Concat(Directory.GetFiles(tokenizer, "special_tokens_map.json")))
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        var sourceTower = Path.Combine(stage.InitFrom, CheckpointWriter.VisionTowerFolderName);
        var towerFolder = Path.Combine(target, CheckpointWriter.VisionTowerFolderName);
        Directory.CreateDirectory(towerFolder);
        if (Directory.Exists(sourceTower))
            foreach (var file in Directory.GetFiles(sourceTower)) File.Copy(file, Path.Combine(towerFolder, Path.GetFileName(file)));
        using var scope = NewDisposeScope();
        using var tensors = CheckpointTensors.Open(stage.InitFrom);
        var tower = tensors.Names.Where(n => n.StartsWith(CheckpointLoader.TowerPrefix, StringComparison.Ordinal))
            .ToDictionary(n => n[CheckpointLoader.TowerPrefix.Length..], n => tensors.ReadTensor(n));
        if (tower.Count > 0) SafetensorsFile.Save(Path.Combine(towerFolder, "model.safetensors"), tower);
    }

    /// <summary><c>train_mem.py</c>'s arguments for the stage, in the order of LLaVA's <c>finetune.sh</c>.</summary>
    public static IReadOnlyList<(string Name, string Value)> TrainArguments(TrainingStage stage, LlavaConfig config)
    {
        static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
        static string Flag(bool value) => value ? "True" : "False";
        var arguments = new List<(string, string)>
        {
            ("deepspeed", $"./{DeepSpeedConfigFile}"),
            ("model_name_or_path", "./model"),
            ("version", stage.Template.Name),
            ("data_path", "./data/train.json"),
            ("image_folder", "./images"),
            ("vision_tower", $"./model/{CheckpointWriter.VisionTowerFolderName}"),
            ("mm_projector_type", config.MmProjectorType),
            ("mm_vision_select_layer", config.MmVisionSelectLayer.ToString(CultureInfo.InvariantCulture)),
            ("mm_vision_select_feature", config.MmVisionSelectFeature),
            ("mm_use_im_start_end", Flag(config.MmUseImStartEnd)),
            ("mm_use_im_patch_token", Flag(config.MmUseImPatchToken)),
            ("image_aspect_ratio", config.ImageAspectRatio),
            ("group_by_modality_length", Flag(stage.GroupByModalityLength)),
        };
        if (stage.Trainable == TrainableSet.Projector) arguments.Add(("tune_mm_mlp_adapter", "True"));
        if (stage.Lora is { } lora)
            arguments.AddRange([("lora_enable", "True"), ("lora_r", lora.Rank.ToString(CultureInfo.InvariantCulture)),
                                ("lora_alpha", Number(lora.Alpha)), ("lora_dropout", Number(lora.Dropout))]);
        if (stage.ProjectorLearningRate is { } projectorLr) arguments.Add(("mm_projector_lr", Number(projectorLr)));
        arguments.AddRange(
        [
            ("bf16", "True"),
            ("output_dir", "./output"),
            ("num_train_epochs", stage.Epochs.ToString(CultureInfo.InvariantCulture)),
            ("per_device_train_batch_size", stage.BatchSize.ToString(CultureInfo.InvariantCulture)),
            ("per_device_eval_batch_size", "4"),
            ("gradient_accumulation_steps", stage.GradientAccumulation.ToString(CultureInfo.InvariantCulture)),
            ("evaluation_strategy", "no"),
            ("save_strategy", "steps"),
            ("save_steps", stage.SaveEverySteps > 0 ? stage.SaveEverySteps.ToString(CultureInfo.InvariantCulture) : "50000"),
            ("save_total_limit", stage.KeepLastCheckpoints.ToString(CultureInfo.InvariantCulture)),
            ("learning_rate", Number(stage.LearningRate)),
            ("weight_decay", Number(stage.WeightDecay)),
            ("warmup_ratio", Number(stage.WarmupRatio)),
            ("lr_scheduler_type", "cosine"),
            ("max_grad_norm", Number(stage.MaxGradNorm)),
            ("seed", stage.Seed.ToString(CultureInfo.InvariantCulture)),
            ("logging_steps", "1"),
            ("tf32", "True"),
            ("model_max_length", stage.MaxLength.ToString(CultureInfo.InvariantCulture)),
            ("gradient_checkpointing", "True"),
            ("dataloader_num_workers", "4"),
            ("lazy_preprocess", "True"),
            ("report_to", "none"),
        ]);
        return arguments;
    }

    /// <summary>A bash script run from the export folder with a LLaVA checkout in <c>LLAVA_DIR</c>.</summary>
    static string LaunchScript(IReadOnlyList<(string Name, string Value)> arguments, int gpus)
    {
        var lines = arguments.Select(a => $"    --{a.Name} {(a.Value.Any(char.IsWhiteSpace) ? $"\"{a.Value}\"" : a.Value)}");
        return "#!/bin/bash\n"
               + "# Written by llava-med export llava-train: this stage for haotian-liu/LLaVA's trainer under DeepSpeed ZeRO-3.\n"
               + "# Run from this folder with LLAVA_DIR pointing at a LLaVA checkout (pip install -e \"$LLAVA_DIR[train]\").\n"
               + "set -euo pipefail\ncd \"$(dirname \"$0\")\"\n"
               + $"deepspeed --num_gpus {gpus} \"${{LLAVA_DIR:?set LLAVA_DIR to a LLaVA checkout}}/llava/train/train_mem.py\" \\\n"
               + string.Join(" \\\n", lines) + "\n";
    }

    /// <summary>LLaVA's <c>scripts/zero3.json</c> with the stage's batch sizes, accumulation and clipping written out
    /// (DeepSpeed checks them against the trainer's arguments) and bf16 on.</summary>
    public static JsonObject DeepSpeedZero3(TrainingStage stage, int gpus) => new()
    {
        ["fp16"] = new JsonObject { ["enabled"] = false },
        ["bf16"] = new JsonObject { ["enabled"] = true },
        ["train_micro_batch_size_per_gpu"] = stage.BatchSize,
        ["gradient_accumulation_steps"] = stage.GradientAccumulation,
        ["train_batch_size"] = stage.BatchSize * stage.GradientAccumulation * gpus,
        ["gradient_clipping"] = stage.MaxGradNorm,
        ["zero_optimization"] = new JsonObject
        {
            ["stage"] = 3,
            ["overlap_comm"] = true,
            ["contiguous_gradients"] = true,
            ["sub_group_size"] = 1e9,
            ["reduce_bucket_size"] = "auto",
            ["stage3_prefetch_bucket_size"] = "auto",
            ["stage3_param_persistence_threshold"] = "auto",
            ["stage3_max_live_parameters"] = 1e9,
            ["stage3_max_reuse_distance"] = 1e9,
            ["stage3_gather_16bit_weights_on_model_save"] = true,
        },
    };
}
