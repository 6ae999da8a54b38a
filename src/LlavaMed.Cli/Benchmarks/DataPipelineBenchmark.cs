using System.Diagnostics;
using System.Globalization;
using LlavaMed.Checkpoints;
using LlavaMed.Data;
using LlavaMed.Data.Batching;
using LlavaMed.Data.Synthetic;
using LlavaMed.Inference;
using LlavaMed.Models;
using LlavaMed.Training;
using LlavaMed.Workbench;
using static TorchSharp.torch;

namespace LlavaMed.Cli.Benchmarks;

/// <summary>What the data-pipeline benchmark runs: the synthetic corpus's alignment pairs (one image each) at
/// <paramref name="ImageSize"/> px, batched by <see cref="BatchLoader"/> with <paramref name="Workers"/> background
/// threads, and the demo-size model trained on the same batches.</summary>
/// <remarks>The loader and the training step are each timed <paramref name="Repeats"/> times and the fastest run
/// is reported: on a shared machine other work only ever slows a run down.</remarks>
public sealed record DataPipelineBenchmarkOptions(int Figures = 400, int ImageSize = 112, int BatchSize = 16,
                                                  int Workers = 0, int MaxLength = 256, int Seed = 0, int Repeats = 3)
{
    /// <summary>Workers used: the option, or <see cref="BatchOptions"/>' default (processors - 1) when 0.</summary>
    public int ResolvedWorkers => Workers > 0 ? Workers : new BatchOptions().Workers;
}

/// <summary>One measured phase: how many samples and images went through in how long.</summary>
public sealed record Throughput(string Phase, int Samples, int Images, TimeSpan Elapsed)
{
    public double SamplesPerSecond => Samples / Math.Max(Elapsed.TotalSeconds, 1e-9);
    public double ImagesPerSecond => Images / Math.Max(Elapsed.TotalSeconds, 1e-9);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Phase,-34} {Samples,6} samples {Images,6} images {Elapsed.TotalSeconds,8:F2} s {SamplesPerSecond,9:F1} samples/s {ImagesPerSecond,9:F1} images/s");
}

/// <summary>The three rates side by side. <see cref="Loader"/>: the batching pipeline alone (decode + preprocess on
/// background threads, tensors made on the consumer); <see cref="TrainingStep"/>: forward + backward + AdamW on
/// batches already in memory (what training could consume if data were free); <see cref="EndToEnd"/>: the
/// <see cref="StageTrainer"/> consuming the loader. The pipeline is the bottleneck when it delivers fewer samples per
/// second than the training step consumes.</summary>
public sealed record DataPipelineBenchmarkResult(DataPipelineBenchmarkOptions Options, int Workers, int Processors,
                                                 string? LoadAverageBefore, string? LoadAverageAfter,
                                                 Throughput Loader, Throughput TrainingStep, Throughput EndToEnd)
{
    public bool PipelineIsBottleneck => Loader.SamplesPerSecond < TrainingStep.SamplesPerSecond;

    public string Verdict => PipelineIsBottleneck
        ? string.Create(CultureInfo.InvariantCulture, $"the data pipeline is the bottleneck: it delivers {Loader.SamplesPerSecond:F0} samples/s, the training step consumes "
            + $"{TrainingStep.SamplesPerSecond:F0}")
        : string.Create(CultureInfo.InvariantCulture, $"the training step is the bottleneck: it consumes {TrainingStep.SamplesPerSecond:F0} samples/s, the data pipeline "
            + $"delivers {Loader.SamplesPerSecond:F0}");

    public override string ToString() => string.Join("\n",
        $"{Processors} processors, {Workers} loader workers, fastest of {Options.Repeats} runs, load average before {LoadAverageBefore ?? "n/a"}, after "
            + $"{LoadAverageAfter ?? "n/a"}",
        Loader, TrainingStep, EndToEnd, Verdict);
}

/// <summary>Measures whether the batching pipeline keeps up with training on this machine (issue "Data", section 3).
/// Everything it needs is generated into a cache folder: the synthetic corpus and the demo checkpoint.</summary>
public static class DataPipelineBenchmark
{
    public static DataPipelineBenchmarkResult Run(string cacheFolder, DataPipelineBenchmarkOptions options, IProgress<string>? progress = null)
    {
        progress?.Report("preparing the synthetic corpus and the demo checkpoint");
        var corpus = SyntheticCorpus.EnsureGenerated(Path.Combine(cacheFolder, "corpora"),
            new SyntheticCorpusOptions(options.Seed, options.Figures, GeneralScenes: 0, options.ImageSize, ChatEvalFigures: 0)).Layout;
        var demo = DemoCheckpoint.EnsureCreated(Path.Combine(cacheFolder, "demo-checkpoint"));
        var samples = LlavaSample.ReadJsonArray(corpus.Alignment);
        var loadBefore = LoadAverage();

        using var pipeline = LlavaPipeline.Load(demo.ModelFolder);
        var dataset = TokenizedDataset.Create(samples, pipeline.Template, pipeline.Tokenizer, options.MaxLength, corpus.Images);
        var batchOptions = new BatchOptions { BatchSize = options.BatchSize, Seed = options.Seed, Workers = options.ResolvedWorkers };
        var loader = new BatchLoader(dataset, pipeline.ImageProcessor, batchOptions);

        progress?.Report("measuring the batching pipeline");
        var loaderRate = Fastest(options.Repeats, () => Measure("batch loader (decode + preprocess)", () =>
        {
            int sampleCount = 0, imageCount = 0;
            foreach (var batch in loader.Epoch(0))
                using (batch)
                {
                    sampleCount += batch.Ids.Count;
                    imageCount += (int)(batch.PixelValues?.shape[0] ?? 0);
                }
            return (sampleCount, imageCount);
        }));

        progress?.Report("measuring the training step on batches in memory");
        var inMemory = loader.Epoch(1).ToList();
        Throughput stepRate;
        try
        {
            stepRate = Fastest(options.Repeats, () => Measure("training step (forward + backward)", () => TrainOnBatches(pipeline.Model, inMemory)));
        }
        finally
        {
            foreach (var batch in inMemory) batch.Dispose();
        }

        progress?.Report("measuring the stage trainer end to end");
        var output = Path.Combine(cacheFolder, "benchmark-run");
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        var stage = Curriculum.PaperStages.Instruction(corpus.Alignment, corpus.Images, demo.ModelFolder, output) with
        {
            Epochs = 1, BatchSize = options.BatchSize, GradientAccumulation = 1, MaxLength = options.MaxLength,
            Seed = options.Seed, LearningRate = 1e-4,
        };
        // The rate of the last optimiser step's report: the trainer's own count, before the final save.
        var lastStep = new StageTrainer().Run(stage).Where(p => p.Event is null).Last();
        var endToEnd = new Throughput("stage trainer (loader + step)", dataset.Samples.Count,
                                      dataset.Samples.Count(s => s.ImagePath is not null), lastStep.Elapsed);
        Directory.Delete(output, recursive: true);

        return new DataPipelineBenchmarkResult(options, options.ResolvedWorkers, Environment.ProcessorCount, loadBefore,
                                               LoadAverage(), loaderRate, stepRate, endToEnd);
    }

    /// <summary>One optimiser step per batch, training what stage 2 trains (projector and language model).</summary>
    static (int Samples, int Images) TrainOnBatches(LlavaForCausalLM model, IReadOnlyList<TrainingBatch> batches)
    {
        var trainable = model.named_parameters()
            .Where(p => !p.name.StartsWith(Checkpoints.CheckpointLoader.TowerPrefix, StringComparison.Ordinal))
            .Select(p => p.parameter).ToList();
        foreach (var (name, parameter) in model.named_parameters())
            parameter.requires_grad = trainable.Contains(parameter);
        using var optimizer = new Training.AdamWOptimizer([new Training.ParameterGroup(trainable, 1e-4)], weightDecay: 0.01);
        model.train();
        int sampleCount = 0, imageCount = 0;
        foreach (var batch in batches)
        {
            using var scope = NewDisposeScope();
            optimizer.ZeroGrad();
            using var inputs = model.PrepareInputs(batch.InputIds, batch.PixelValues, batch.Labels, PaddingSide.Right);
            model.Forward(inputs).Loss!.backward();
            optimizer.Step();
            sampleCount += batch.Ids.Count;
            imageCount += (int)(batch.PixelValues?.shape[0] ?? 0);
        }
        model.eval();
        return (sampleCount, imageCount);
    }

    static Throughput Fastest(int repeats, Func<Throughput> measure) =>
        Enumerable.Range(0, Math.Max(1, repeats)).Select(_ => measure()).MinBy(run => run.Elapsed)!;

    static Throughput Measure(string phase, Func<(int Samples, int Images)> work)
    {
        var clock = Stopwatch.StartNew();
        var (samples, images) = work();
        return new Throughput(phase, samples, images, clock.Elapsed);
    }

    /// <summary>The 1, 5 and 15 minute load averages (Linux), null elsewhere: the machine may be shared.</summary>
    public static string? LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : null;
}
