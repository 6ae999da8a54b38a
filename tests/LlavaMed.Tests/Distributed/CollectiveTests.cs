using LlavaMed.Distributed;

namespace LlavaMed.Tests.Distributed;

/// <summary>Open MPI collectives between two processes on this machine, and failures that must end the job within
/// seconds instead of hanging.</summary>
public sealed class CollectiveTests
{
    static readonly TimeSpan JobLimit = TimeSpan.FromMinutes(2);

    [Fact]
    [Trait("Category", "Slow")]
    public void TwoRanksAgreeOnEveryCollectiveIncludingChunkedCalls()
    {
        // 64 elements per MPI call: the 1001-element sum and the 333-per-rank gather and scatter go in chunks.
        var job = MpiJob.Run(2, ["distributed", "check", "--chunk-elements", "64"], JobLimit);
        Assert.Equal(0, job.ExitCode);
        int checks = CollectiveSelfTest.Checks(new SingleProcessGroup()).Count();
        foreach (var rank in new[] { 0, 1 })
            Assert.Equal(checks, job.Output.Split('\n').Count(line => line.Contains($"rank {rank}/2 mpi:") && line.TrimEnd().EndsWith(": ok")));
        Assert.DoesNotContain("FAILED", job.Output);
    }

    [Fact]
    public void SingleProcessGroupPassesTheSameChecksWithoutMpi()
    {
        Assert.All(CollectiveSelfTest.Checks(new SingleProcessGroup()), check => Assert.True(check.Passed, check.Name));
    }

    [Theory]
    [InlineData("throw", "rank 1 of 2 failed")]
    [InlineData("kill", "process rank 1")]
    [Trait("Category", "Slow")]
    public void AFailingRankEndsTheJobWithinSecondsNamingTheRank(string how, string message)
    {
        var job = MpiJob.Run(2, ["distributed", "check", "--fail-rank", "1", "--fail-how", how], JobLimit);
        Assert.False(job.TimedOut);
        Assert.NotEqual(0, job.ExitCode);
        Assert.Contains(message, job.Output);
        Assert.True(job.Elapsed < TimeSpan.FromSeconds(45), $"the job took {job.Elapsed.TotalSeconds:F0} s");
    }

    [Fact]
    public void LauncherVariablesWithoutTheLauncherAreOneClearError()
    {
        MpiJob.RequireOpenMpi();
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", [MpiJob.CliAssembly, "distributed", "check"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["OMPI_COMM_WORLD_RANK"] = "0";
        start.Environment["OMPI_COMM_WORLD_SIZE"] = "2";
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(1, process.ExitCode);
        Assert.Equal("error: MPI says rank 0 of 1, the mpirun environment rank 0 of 2: launch with Open MPI's mpirun (or srun --mpi=pmix)", error.Trim());
        Assert.Empty(output.Result.Trim());
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void ARankThatHangsMakesTheOthersTimeOutAndAbortTheJob()
    {
        var job = MpiJob.Run(2, ["distributed", "check", "--fail-rank", "1", "--fail-how", "hang", "--collective-timeout", "3"], JobLimit);
        Assert.False(job.TimedOut);
        Assert.NotEqual(0, job.ExitCode);
        Assert.Contains("rank 0 of 2 failed", job.Output);
        Assert.Contains("did not complete within 3 s", job.Output);
    }
}
