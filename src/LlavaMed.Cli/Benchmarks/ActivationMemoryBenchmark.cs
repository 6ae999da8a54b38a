using System.Globalization;
using System.Runtime.InteropServices;
using LlavaMed.Models;
using LlavaMed.Training;
using static TorchSharp.torch;

namespace LlavaMed.Cli.Benchmarks;

/// <summary>The decoder the activation-memory benchmark trains: small enough for a shared CPU, large enough that
/// activations dominate the temporaries (defaults: 8 layers of width 512, 2 x 512 tokens, ~27M parameters).</summary>
public sealed record ActivationMemoryOptions(int Layers = 8, int HiddenSize = 512, int IntermediateSize = 1408, int Heads = 8,
                                             int VocabSize = 2000, int Batch = 2, int Tokens = 512, int Seed = 0);

/// <summary>Peak resident memory above the step's starting point, for one training step (forward, loss, backward)
/// without and with gradient checkpointing, each measured twice in alternating order.</summary>
public sealed record ActivationMemoryResult(ActivationMemoryOptions Options, long Parameters,
                                            IReadOnlyList<long> PlainPeakBytes, IReadOnlyList<long> CheckpointedPeakBytes,
                                            long EstimatedPlainBytes, long EstimatedCheckpointedBytes)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"decoder {Options.Layers} layers x {Options.HiddenSize} wide, {Parameters / 1e6:F1}M parameters, batch {Options.Batch} x {Options.Tokens} tokens, float32\n"
        + $"peak memory above the step's start (forward + backward):\n"
        + $"  without checkpointing {string.Join(" / ", PlainPeakBytes.Select(b => $"{b / 1048576.0:F0} MiB"))} "
            + $"(MemoryPlan's activations: {EstimatedPlainBytes / 1048576.0:F0} MiB)\n"
        + $"  with checkpointing    {string.Join(" / ", CheckpointedPeakBytes.Select(b => $"{b / 1048576.0:F0} MiB"))} "
            + $"(MemoryPlan's activations: {EstimatedCheckpointedBytes / 1048576.0:F0} MiB)");
}

/// <summary>Measures what gradient checkpointing saves: the growth of the process's peak resident set (VmHWM, reset
/// through <c>/proc/self/clear_refs</c>) over one training step, after a warm-up step has allocated the gradients.
/// glibc is told to give every large block back to the system when freed (mallopt), so one step's memory does not
/// hide in the next's. Linux only; run it alone (the peak is the whole process's).</summary>
public static class ActivationMemoryBenchmark
{
    public static ActivationMemoryResult Run(ActivationMemoryOptions options)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the activation-memory benchmark reads /proc (Linux)");
        const int MmapThreshold = -3, TrimThreshold = -1;
        mallopt(MmapThreshold, 64 * 1024);
        mallopt(TrimThreshold, 64 * 1024);
        var config = new LlavaConfig
        {
            VocabSize = options.VocabSize, HiddenSize = options.HiddenSize, IntermediateSize = options.IntermediateSize,
            NumHiddenLayers = options.Layers, NumAttentionHeads = options.Heads, NumKeyValueHeads = options.Heads,
            MaxPositionEmbeddings = options.Tokens, MmHiddenSize = 64, MmProjectorType = "mlp2x_gelu", TokenizerModelMaxLength = options.Tokens,
            Vision = new ClipVisionConfig { HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 1, NumAttentionHeads = 2, ImageSize = 28, PatchSize = 14 },
        };
        using var model = new LlavaForCausalLM(config);
        WeightInitialization.Initialize(model, (ulong)options.Seed);
        model.train();
        var random = new Random(options.Seed);
        var ids = Enumerable.Range(0, options.Batch)
            .Select(_ => Enumerable.Range(0, options.Tokens).Select(_ => (long)random.Next(3, options.VocabSize)).ToArray()).ToArray();

        void Step()
        {
            using var scope = NewDisposeScope();
            using var inputs = model.PrepareInputs(ids, null, ids, PaddingSide.Right);
            model.TrainingLoss(inputs).backward();
        }
        long Measure(bool checkpointing)
        {
            model.GradientCheckpointing = checkpointing ? new ActivationCheckpointing() : null;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            File.WriteAllText("/proc/self/clear_refs", "5"); // resets VmHWM to the current resident set
            long start = Status("VmRSS");
            Step();
            return Status("VmHWM") - start;
        }

        Step(); // allocates every gradient: what follows measures the step's own memory
        var plain = new List<long>();
        var checkpointed = new List<long>();
        for (int round = 0; round < 2; round++)
        {
            plain.Add(Measure(checkpointing: false));
            checkpointed.Add(Measure(checkpointing: true));
        }
        model.GradientCheckpointing = null;
        // The plan's sequences include the image's patches; this benchmark's rows are text only, as long as the plan's.
        long Estimated(bool checkpointing) => MemoryPlan.Estimate(config, new MemoryPlanSettings(
            BatchSize: options.Batch, MaxLength: options.Tokens - config.Vision.NumPatches + 1,
            GradientCheckpointing: checkpointing, PaddedRows: false)).ActivationBytes;
        return new ActivationMemoryResult(options, model.parameters().Sum(p => p.numel()), plain, checkpointed, Estimated(false), Estimated(true));
    }

    /// <summary>A /proc/self/status field in bytes.</summary>
    static long Status(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int mallopt(int parameter, int value);
}
