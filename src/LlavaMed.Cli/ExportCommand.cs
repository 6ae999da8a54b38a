using System.CommandLine;
using LlavaMed.Training;

namespace LlavaMed.Cli;

/// <summary><c>llava-med export llava-train</c>: a stage written for the reference LLaVA trainer (DeepSpeed ZeRO-3).</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var stageOptions = new TrainCommand.StageOptions("export folder (created; must be empty)");
        var gpus = new Option<int>("--gpus") { Description = "GPUs the launch script uses", DefaultValueFactory = _ => 8 };
        var llavaTrain = new Command("llava-train",
            "Write a stage as haotian-liu/LLaVA's train_mem.py takes it: data, images, HF checkpoint, launch script, ZeRO-3 config") { gpus };
        stageOptions.AddTo(llavaTrain);
        llavaTrain.SetAction(parse => CliErrors.Run(parse, (stdout, _) =>
        {
            var stage = stageOptions.Build(parse);
            var report = LlavaTrainerExport.Write(stage, stage.OutputDir, parse.GetValue(gpus));
            stdout.WriteLine($"wrote {report.Folder}: {report.Records} records, {report.Images} images, model/, "
                + $"{Path.GetFileName(report.LaunchScript)}, {Path.GetFileName(report.DeepSpeedConfig)}");
            stdout.WriteLine($"run: LLAVA_DIR=/path/to/LLaVA {report.LaunchScript}");
            return 0;
        }));
        return new Command("export", "Write workbench data and models for other tools") { llavaTrain };
    }
}
