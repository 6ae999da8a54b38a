using LlavaMed.Cli.Benchmarks;

namespace LlavaMed.Tests.Cli.Benchmarks;

/// <summary>The activation-memory benchmark. <see cref="ReportActivationMemoryOnThisMachine"/> is explicit (a
/// measurement, not a test; the peak is the whole process's, so run it alone):
/// <c>dotnet test tests/LlavaMed.Tests --filter "FullyQualifiedName~ActivationMemoryBenchmarks" -- xUnit.Explicit=on</c>.</summary>
public sealed class ActivationMemoryBenchmarks
{
    [Fact(Explicit = true)]
    public void ReportActivationMemoryOnThisMachine() =>
        TestContext.Current.TestOutputHelper!.WriteLine(ActivationMemoryBenchmark.Run(new ActivationMemoryOptions()).ToString());

    [Fact]
    public void MeasuresBothModesTwice()
    {
        var result = ActivationMemoryBenchmark.Run(new ActivationMemoryOptions(Layers: 2, HiddenSize: 32, IntermediateSize: 64, Heads: 4, VocabSize: 50, Tokens: 16));
        Assert.Equal(2, result.PlainPeakBytes.Count);
        Assert.Equal(2, result.CheckpointedPeakBytes.Count);
        // No check of the values: tests run in parallel and the peak is the whole process's.
        Assert.Contains("with checkpointing", result.ToString());
    }
}
