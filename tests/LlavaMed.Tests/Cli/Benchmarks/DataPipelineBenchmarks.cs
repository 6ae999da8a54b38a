using LlavaMed.Cli.Benchmarks;

namespace LlavaMed.Tests.Cli.Benchmarks;

/// <summary>The data-pipeline benchmark. <see cref="ReportThroughputOnThisMachine"/> is explicit (a measurement, not
/// a test): run it with
/// <c>dotnet test tests/LlavaMed.Tests --filter "FullyQualifiedName~LlavaMed.Tests.Benchmarks" -- xUnit.Explicit=on</c>
/// and read the numbers in the test output.</summary>
public sealed class DataPipelineBenchmarks : IDisposable
{
    readonly string cache = Directory.CreateTempSubdirectory("llava-bench-").FullName;

    public void Dispose() => Directory.Delete(cache, recursive: true);

    /// <summary>The corpus's own 112 px figures, then 448 px ones (closer to a PubMed Central figure's decode cost;
    /// the demo model's 56 px CLIP input is the same for both).</summary>
    [Fact(Explicit = true)]
    public void ReportThroughputOnThisMachine()
    {
        var output = TestContext.Current.TestOutputHelper!;
        foreach (var imageSize in new[] { 112, 448 })
        {
            var result = DataPipelineBenchmark.Run(cache, new DataPipelineBenchmarkOptions(ImageSize: imageSize));
            output.WriteLine($"--- {imageSize} px figures, batch {result.Options.BatchSize}, demo-size model");
            output.WriteLine(result.ToString());
        }
    }

    [Fact]
    public void EveryPhaseSeesEveryTrainingSampleAndItsImage()
    {
        var result = DataPipelineBenchmark.Run(cache, new DataPipelineBenchmarkOptions(Figures: 10, ImageSize: 32, BatchSize: 4, Workers: 2, Repeats: 2));

        // 10 figures, 15% held out by whole groups of 5 -> the first group is test: 5 train pairs, one image each.
        foreach (var phase in new[] { result.Loader, result.TrainingStep, result.EndToEnd })
        {
            Assert.Equal(5, phase.Samples);
            Assert.Equal(5, phase.Images);
            Assert.True(phase.SamplesPerSecond > 0, phase.ToString());
        }
        Assert.Equal(2, result.Workers);
        Assert.Equal(result.Loader.SamplesPerSecond < result.TrainingStep.SamplesPerSecond, result.PipelineIsBottleneck);
        Assert.Contains("bottleneck", result.Verdict);
        Assert.False(Directory.Exists(Path.Combine(cache, "benchmark-run")));
    }
}
