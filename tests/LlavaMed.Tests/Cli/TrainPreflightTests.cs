using LlavaMed.Checkpoints;
using LlavaMed.Models;
using LlavaMed.Tests.Models;
using LlavaMed.Workbench;

namespace LlavaMed.Tests.Cli;

/// <summary><c>train</c> refuses a run its memory plan says cannot fit, before anything is allocated or written.
/// Sets <see cref="MachineProbe.MemoryLimitVariable"/> for the process, so it runs with no other test in parallel.</summary>
[Collection(nameof(ProcessWideTests))]
public sealed class TrainPreflightTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-preflight-").FullName;

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(MachineProbe.MemoryLimitVariable, null);
        Directory.Delete(temporary, recursive: true);
    }

    [Fact]
    public void ARunThatCannotFitIsOneLineNamingTheOptionsAndWritesNothing()
    {
        var demo = DemoCheckpoint.EnsureCreated(Path.Combine(temporary, "demo"));
        var output = Path.Combine(temporary, "out");
        string[] train = ["train", "--stage", "instruction", "--init", demo.ModelFolder, "--data", Path.Combine(temporary, "train.json"),
                          "--image-root", temporary, "--out", output, "--dtype", "float32", "--batch-size", "16", "--max-length", "2048"];
        // 2.1 GB: the demo model's float32 plan at batch 16 needs 3.2 GB (its 32,000-word head's logits for 16 x 2,048
        // tokens); bfloat16, checkpointing (2.0 GB) or a batch of 8 (1.9 GB) fit.
        Environment.SetEnvironmentVariable(MachineProbe.MemoryLimitVariable, "2100000000");
        var (exitCode, _, error) = CliRunner.Run(train);
        Assert.Equal(1, exitCode);
        var line = Assert.Single(error.Trim().Split('\n'));
        Assert.Matches(@"^error: needs 3\.2 GB as float32, 2\.1 GB available; --dtype bfloat16 needs 2\.0 GB; "
                       + @"--gradient-checkpointing needs 2\.0 GB; --batch-size 8 needs 1\.9 GB$", line);
        Assert.False(Directory.Exists(output));
    }
}
