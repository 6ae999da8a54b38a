using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace LlavaMed.Cli.Benchmarks;

/// <summary>One training run of the data-parallel benchmark, from its <c>log.jsonl</c>: the steps after the first
/// (which pays for start-up), their wall time, and the part rank 0 spent in collectives.</summary>
public sealed record DataParallelRun(int Ranks, int BatchPerRank, int Steps, double WallSeconds, double CommunicationSeconds, long GradientElements)
{
    public int SamplesPerStep => Ranks * BatchPerRank;
    public double SamplesPerSecond => Steps * SamplesPerStep / Math.Max(WallSeconds, 1e-9);
    public double ComputeSeconds => WallSeconds - CommunicationSeconds;
    /// <summary>Bytes a ring all-reduce moves per rank and step: 2 (N-1)/N x the float32 gradient.</summary>
    public double AllReduceBytesPerStep => Ranks == 1 ? 0 : 2.0 * (Ranks - 1) / Ranks * GradientElements * sizeof(float);

    /// <summary>Reads a run's log: steps 2..last (the first step's time includes start-up).</summary>
    public static DataParallelRun FromLog(string runFolder, int ranks, int batchPerRank, long gradientElements)
    {
        var lines = File.ReadAllLines(Path.Combine(runFolder, "log.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        if (lines.Count < 2) throw new InvalidDataException($"{runFolder}/log.jsonl has {lines.Count} steps; the benchmark needs at least 2");
        double Value(JsonNode line, string key) => line[key]!.GetValue<double>();
        return new DataParallelRun(ranks, batchPerRank, lines.Count - 1, Value(lines[^1], "elapsed_seconds") - Value(lines[0], "elapsed_seconds"),
                                   Value(lines[^1], "communication_seconds") - Value(lines[0], "communication_seconds"), gradientElements);
    }

    public override string ToString()
    {
        var invariant = CultureInfo.InvariantCulture;
        var line = string.Create(invariant, $"{Ranks} rank(s) x batch {BatchPerRank}: {Steps} steps in {WallSeconds:F2} s, {SamplesPerSecond:F1} samples/s; communication "
            + $"{CommunicationSeconds:F2} s ({CommunicationSeconds / Math.Max(WallSeconds, 1e-9):P0}), compute {ComputeSeconds:F2} s");
        return Ranks == 1 ? line
            : line + string.Create(invariant, $"; all-reduce {AllReduceBytesPerStep / 1e6:F1} MB per rank and step, "
                + $"{AllReduceBytesPerStep * Steps / Math.Max(CommunicationSeconds, 1e-9) / 1e9:F2} GB/s while communicating");
    }
}

/// <summary>The data-parallel benchmark side by side: one process with the global batch and N ranks with its N-th
/// each, on the same data and model, and the machine's bound measured in the same run (the memory copy bandwidth,
/// which bounds what a shared-memory all-reduce between processes on one machine can reach).</summary>
public sealed record DataParallelBenchmarkResult(DataParallelRun Alone, DataParallelRun Parallel, double MemoryCopyGigabytesPerSecond,
                                                 int Processors, string? LoadAverageBefore, string? LoadAverageAfter)
{
    public double Speedup => Parallel.SamplesPerSecond / Math.Max(Alone.SamplesPerSecond, 1e-9);

    public override string ToString() => string.Join("\n",
        string.Create(CultureInfo.InvariantCulture, $"{Processors} processors, load average before {LoadAverageBefore ?? "n/a"}, after {LoadAverageAfter ?? "n/a"}"),
        Alone.ToString(), Parallel.ToString(),
        string.Create(CultureInfo.InvariantCulture, $"speed-up {Speedup:F2}x with {Parallel.Ranks} ranks; "
            + $"memory copy bound on this machine {MemoryCopyGigabytesPerSecond:F1} GB/s"));

    /// <summary>Copies a buffer of <paramref name="bytes"/> repeatedly and reports the fastest rate (read + write counted once).</summary>
    public static double MeasureMemoryCopy(long bytes = 256L << 20, int repeats = 5)
    {
        using var scope = NewDisposeScope();
        var source = ones(bytes / sizeof(float), ScalarType.Float32);
        var target = empty_like(source);
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            target.copy_(source);
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return bytes / best / 1e9;
    }
}
