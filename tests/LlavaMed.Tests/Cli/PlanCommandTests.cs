namespace LlavaMed.Tests.Cli;

public sealed class PlanCommandTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public void PlanPrintsThePartsAndTheSizesTheRunFits()
    {
        var (exitCode, output, _) = CliRunner.Run("plan", "--dtype", "bfloat16", "--lora-rank", "16", "--gradient-checkpointing", "--max-length", "256");
        Assert.Equal(0, exitCode);
        Assert.Contains("optimiser state", output);
        Assert.Contains("24 GiB yes", output);
        var (ranksExit, table, _) = CliRunner.Run("plan", "--dtype", "bfloat16", "--max-length", "256", "--ranks", "8", "--zero1");
        Assert.Equal(0, ranksExit);
        Assert.Contains("| ranks | per rank | per rank, ZeRO-1 (optimiser state) |", table);
        Assert.Contains("| 8 |", table);
        var (badExit, _, error) = CliRunner.Run("plan", "--lora-rank", "16", "--lora-targets", "c_attn");
        Assert.Equal(1, badExit);
        Assert.Contains("c_attn", error);
    }
}
