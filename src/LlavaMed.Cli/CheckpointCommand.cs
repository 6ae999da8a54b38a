using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LlavaMed.Checkpoints;
using LlavaMed.Models;
using LlavaMed.Workbench;
using static TorchSharp.torch;

namespace LlavaMed.Cli;

/// <summary><c>llava-med checkpoint random</c>: a random-weight checkpoint shaped like a released model.</summary>
public static class CheckpointCommand
{
    public static Command Create() => new("checkpoint", "Make checkpoints") { CreateRandom() };

    static Command CreateRandom()
    {
        var like = new Option<string>("--like")
        {
            Description = "the shape: " + string.Join(", ", RandomCheckpoint.Presets.Keys), Required = true,
        };
        like.AcceptOnlyFromAmong([.. RandomCheckpoint.Presets.Keys]);
        var dtype = new Option<string>("--dtype") { Description = "float32, bfloat16 or float16", DefaultValueFactory = _ => "bfloat16" };
        dtype.AcceptOnlyFromAmong("float32", "bfloat16", "float16");
        var output = new Option<string>("--out") { Description = "folder to write", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "seed of the weight values", DefaultValueFactory = _ => 0UL };
        var command = new Command("random", "Write a random-weight checkpoint in a released model's exact layout (no download)")
        {
            like, dtype, output, seed,
        };
        command.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            var config = RandomCheckpoint.Presets[parse.GetValue(like)!];
            var scalarType = PlacementPlanner.FromRequest(PlacementPlanner.ParseDtype(parse.GetValue(dtype)!));
            var folder = parse.GetValue(output)!;
            var clock = Stopwatch.StartNew();
            long lastReported = 0;
            RandomCheckpoint.Write(config, scalarType, folder, parse.GetValue(seed), new InlineProgress<CheckpointWriteProgress>(p =>
            {
                if (p.BytesWritten - lastReported < 500_000_000 && p.BytesWritten < p.TotalBytes) return;
                lastReported = p.BytesWritten;
                stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {p.BytesWritten / 1e9:F1} / {p.TotalBytes / 1e9:F1} GB ({p.BytesWritten / 1e9 / clock.Elapsed.TotalSeconds:F2} GB/s)"));
            }));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote a random {parse.GetValue(like)} checkpoint ({parse.GetValue(dtype)}) to {folder} in {clock.Elapsed.TotalSeconds:F1} s"));
            return 0;
        }));
        return command;
    }
}
