using LlavaMed.Cli.Benchmarks;
using LlavaMed.Tests.Distributed;

namespace LlavaMed.Tests.Cli.Benchmarks;

public sealed class DataParallelBenchmarkTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-dp-bench-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    [Fact]
    public void ARunIsReadFromItsLogWithoutTheFirstStep()
    {
        File.WriteAllLines(Path.Combine(temporary, "log.jsonl"),
        [
            """{"step":1,"loss":2,"elapsed_seconds":5.0,"communication_seconds":1.0}""",
            """{"step":2,"loss":2,"elapsed_seconds":6.0,"communication_seconds":1.25}""",
            """{"step":3,"loss":2,"elapsed_seconds":7.5,"communication_seconds":1.5}""",
        ]);
        var run = DataParallelRun.FromLog(temporary, ranks: 4, batchPerRank: 2, gradientElements: 1000);
        Assert.Equal(2, run.Steps);
        Assert.Equal(2.5, run.WallSeconds, 9);
        Assert.Equal(0.5, run.CommunicationSeconds, 9);
        Assert.Equal(2.0, run.ComputeSeconds, 9);
        Assert.Equal(2 * 8 / 2.5, run.SamplesPerSecond, 9);
        Assert.Equal(2.0 * 3 / 4 * 1000 * 4, run.AllReduceBytesPerStep, 9); // ring all-reduce: 2 (N-1)/N x 4-byte gradient
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void BenchCommandComparesTwoRanksWithOneProcessSideBySide()
    {
        MpiJob.RequireOpenMpi();
        var (exitCode, output, error) = CliRunner.Run("distributed", "bench", "--figures", "32", "--batch-size", "2", "--cache", temporary);
        Assert.True(exitCode == 0, error);
        Assert.Contains("1 rank(s) x batch 4:", output);
        Assert.Contains("2 rank(s) x batch 2:", output);
        Assert.Contains("GB/s while communicating", output);
        Assert.Contains("memory copy bound on this machine", output);
    }
}
