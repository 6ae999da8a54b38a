using System.Globalization;
using LlavaMed.Training;

namespace LlavaMed.Curriculum;

/// <summary>A <see cref="TrainingStage"/> as (setting, value) rows for a table: data, template, what trains,
/// schedule, where it starts from and where it writes.</summary>
public static class StageSummary
{
    public static IReadOnlyList<IReadOnlyList<string>> Rows(TrainingStage stage)
    {
        static string Number(double value) => value.ToString("g4", CultureInfo.InvariantCulture);
        return
        [
            ["name", stage.Name],
            ["data", stage.DataPath],
            ["images", stage.ImageRoot ?? "(none)"],
            ["template", stage.Template.Name],
            ["trainable", stage.Trainable switch
            {
                TrainableSet.Projector => "projector only (vision tower and language model frozen)",
                _ => "projector and language model (vision tower frozen)",
            } + (stage.Lora is null ? "" : $", LoRA rank {stage.Lora.Rank}")],
            ["epochs", stage.Epochs.ToString(CultureInfo.InvariantCulture)],
            ["learning rate", Number(stage.LearningRate) + (stage.ProjectorLearningRate is { } projector ? $" (projector {Number(projector)})" : "")],
            ["schedule", $"cosine, warm-up ratio {Number(stage.WarmupRatio)}, weight decay {Number(stage.WeightDecay)}, max grad norm {Number(stage.MaxGradNorm)}"],
            ["global batch", $"{stage.GlobalBatchSize} ({stage.BatchSize} x {stage.GradientAccumulation} accumulation)"
                             + (stage.PackPerImage > 0 ? $", up to {stage.PackPerImage} samples of one image packed per row" : "")],
            ["max length", stage.MaxLength.ToString(CultureInfo.InvariantCulture)],
            ["seed", stage.Seed.ToString(CultureInfo.InvariantCulture)],
            ["init from", stage.InitFrom],
            ["output dir", stage.OutputDir],
        ];
    }
}
