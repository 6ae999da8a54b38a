using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LlavaMed.Checkpoints;
using LlavaMed.Images;
using LlavaMed.Inference;
using LlavaMed.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Cli;

/// <summary>
/// <c>llava-med bench inference</c>: load time, peak resident memory, prefill and decode tokens/s of one checkpoint,
/// each beside this machine's own bound measured in the same run: the read speed of the shard files, the memory
/// bandwidth, the matmul FLOP/s in the model's dtype and a bare matrix-vector product over weight-shaped matrices
/// (what libtorch itself reaches for decoding). Printed as ratios; progress goes to stderr while it runs.
/// </summary>
public static class BenchCommand
{
    public static Command Create() => new("bench", "Benchmarks that compare with this machine's own bounds") { CreateInference(), CreateTrain() };

    /// <summary>The matmul whose FLOP/s <c>bench train</c> reports as this machine's peak: large enough to reach
    /// it whatever the model's width.</summary>
    const int PeakMatmulWidth = 1024;

    static Command CreateTrain()
    {
        var config = new Option<string>("--config") { Description = "a LLaVA config.json (any file name): the model's shape", Required = true };
        var batchSize = new Option<int>("--batch-size") { Description = "images (rows) per step", DefaultValueFactory = _ => 8 };
        var textTokens = new Option<int>("--text-tokens") { Description = "text tokens per row, after the image's positions", DefaultValueFactory = _ => 64 };
        var dtype = new Option<string>("--dtype")
        {
            Description = "float32 or bfloat16, or both (float32,bfloat16): one model each, stepped in turn, and their ratio",
            DefaultValueFactory = _ => "float32",
        };
        dtype.Validators.Add(result =>
        {
            var names = result.GetValueOrDefault<string>().Split(',');
            if (names.Any(n => n is not ("float32" or "bfloat16")) || names.Distinct().Count() != names.Length)
                result.AddError("--dtype takes float32, bfloat16 or both, comma-separated");
        });
        var threads = new Option<int>("--threads") { Description = "torch threads (0: libtorch's default)", DefaultValueFactory = _ => 0 };
        var steps = new Option<int>("--steps") { Description = "timed steps", DefaultValueFactory = _ => 20 };
        var warmup = new Option<int>("--warmup") { Description = "untimed steps first", DefaultValueFactory = _ => 3 };
        var trainTower = new Option<bool>("--train-vision-tower")
        {
            Description = "train the vision tower too (the curriculum never does): the same work as a peer that trains every weight",
        };
        var command = new Command("train", "Training-step speed (forward, backward, AdamW) of a random model next to this machine's matmul peak")
        {
            config, batchSize, textTokens, dtype, threads, steps, warmup, trainTower,
        };
        command.SetAction(parse => CliErrors.Run(parse, (stdout, _) =>
        {
            var dtypes = parse.GetValue(dtype)!.Split(',');
            var runs = dtypes.Select(name => new TrainingBenchmark.Options(LlavaConfig.FromFile(parse.GetValue(config)!), parse.GetValue(batchSize),
                                                                           parse.GetValue(textTokens), name == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32,
                                                                           parse.GetValue(steps), parse.GetValue(warmup), TrainVisionTower: parse.GetValue(trainTower)))
                             .ToList();
            if (parse.GetValue(threads) > 0) set_num_threads(parse.GetValue(threads));
            var results = TrainingBenchmark.Run(runs);
            for (int i = 0; i < runs.Count; i++)
            {
                var (options, result) = (runs[i], results[i]);
                double peak = MatmulFlops(options.Dtype, CPU, PeakMatmulWidth);
                double seconds = result.MedianSeconds, achieved = result.StepFlop / seconds;
                stdout.WriteLine($"model: {parse.GetValue(config)}: {result.Parameters:N0} parameters ({result.TrainedParameters:N0} trained: "
                                 + $"{(options.TrainVisionTower ? "every weight" : "projector and language model")}), {dtypes[i]}, "
                                 + $"{get_num_threads()} torch threads; {options.BatchSize} images + "
                                 + $"{options.TextTokens} text tokens per row ({result.Positions} decoder positions per step)");
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"median {seconds * 1e3:F1} ms/step (min {result.MinSeconds * 1e3:F1}, max {result.MaxSeconds * 1e3:F1}; {options.Steps} steps after "
                    + $"{options.WarmupSteps} warm-up), loss {result.FirstLoss:F4} -> {result.LastLoss:F4}; {options.BatchSize * options.TextTokens / seconds:F0} tokens/s "
                    + $"({result.Positions / seconds:F0} positions/s); {result.StepFlop / 1e9:F2} GFLOP/step (matmuls), {achieved / 1e9:F1} GFLOP/s = "
                    + $"MFU {achieved / peak:P0} of the {dtypes[i]} matmul peak measured now{ProductNote(options.Dtype, CPU)} ({peak / 1e9:F1} GFLOP/s, [512, {PeakMatmulWidth}] x "
                    + $"[{PeakMatmulWidth}, {PeakMatmulWidth}]); load average {File.ReadAllText("/proc/loadavg").Trim()}"));
            }
            if (runs.Count == 2)
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{dtypes[1]} vs {dtypes[0]}, one step of each in turn: {results[0].MedianSeconds / results[1].MedianSeconds:F2}x the speed "
                    + $"({results[1].MedianSeconds * 1e3:F1} against {results[0].MedianSeconds * 1e3:F1} ms/step)"));
            return 0;
        }));
        return command;
    }

    static Command CreateInference()
    {
        var model = new Option<string>("--model") { Description = "checkpoint folder", Required = true };
        var batchSize = new Option<int>("--batch-size") { Description = "also decode N copies of the prompt in one batch", DefaultValueFactory = _ => 4 };
        var newTokens = new Option<int>("--new-tokens") { Description = "decode steps timed per batch size", DefaultValueFactory = _ => 8 };
        var dropCaches = new Option<bool>("--drop-caches")
        {
            Description = "drop the page cache before reading the shards and before loading (root only), so both are cold reads",
        };
        var boundsOnly = new Option<bool>("--bounds-only") { Description = "measure this machine's bounds for the checkpoint's shapes, without loading it" };
        var command = new Command("inference", "Load, prefill and decode speed of a checkpoint next to this machine's bounds")
        {
            model, batchSize, newTokens, dropCaches, boundsOnly,
        };
        var placement = new PlacementCliOptions();
        placement.AddTo(command);
        command.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            var folder = parse.GetValue(model)!;
            var batch = parse.GetValue(batchSize);
            if (batch < 1) throw new ArgumentException("--batch-size must be at least 1");
            var decision = placement.Resolve(parse, folder, Workload.Answering, stderr);
            void Progress(string line) => stderr.WriteLine($"  ... {line}");
            void Result(string line) => stdout.WriteLine(line);

            // Bounds first, so their buffers are gone before the peak-memory window opens.
            using var shards = CheckpointTensors.Open(folder);
            var files = shards.Names.Select(shards.PathOf).Distinct().ToArray();
            long fileBytes = files.Sum(f => new FileInfo(f).Length);
            if (parse.GetValue(dropCaches)) DropPageCache();
            Progress($"reading the {files.Length} shard files ({Gb(fileBytes)}){(parse.GetValue(dropCaches) ? " from a cold page cache" : "")}");
            var firstRead = TimeRead(files);
            Progress("reading them again (page cache)");
            var warmRead = TimeRead(files);
            Progress("memory bandwidth (sum over a 2 GB tensor)");
            var bandwidth = MemoryBandwidth(decision.Device);
            Progress($"matmul FLOP/s in {decision.DtypeName}");
            var config = LlavaConfig.FromFolder(folder);
            var flops = MatmulFlops(decision.Dtype, decision.Device, config.HiddenSize);
            Progress($"bare matrix-vector products over {decision.DtypeName} weights shaped like one decoder layer");
            var gemv = GemvBandwidth(config, decision.Dtype, decision.Device);
            Result($"disk: shard files {Gb(fileBytes)}: first read {firstRead:F1} s ({fileBytes / 1e9 / firstRead:F2} GB/s)"
                   + $"{(parse.GetValue(dropCaches) ? " cold" : "")}, again {warmRead:F1} s ({fileBytes / 1e9 / warmRead:F2} GB/s)");
            Result($"bounds: memory bandwidth {bandwidth / 1e9:F1} GB/s, {decision.DtypeName} matmul {flops / 1e9:F0} GFLOP/s{ProductNote(decision.Dtype, decision.Device)}, "
                   + $"bare matrix-vector over layer weights {gemv / 1e9:F1} GB/s ({gemv / bandwidth:P0} of the bandwidth)");
            if (parse.GetValue(boundsOnly)) return 0;

            ResetPeakResident();
            if (parse.GetValue(dropCaches)) DropPageCache();
            Progress("loading the model");
            var clock = Stopwatch.StartNew();
            using var pipeline = LlavaPipeline.Load(folder, new PipelineOptions { Load = PlacementCliOptions.LoadOptions(decision) });
            var loadSeconds = clock.Elapsed.TotalSeconds;
            long weightBytes = pipeline.Model.parameters().Sum(p => p.numel() * p.ElementSize);
            long parameters = pipeline.Model.parameters().Sum(p => p.numel());

            Result($"model: {folder}: {parameters:N0} parameters, {Gb(weightBytes)} of {decision.DtypeName} weights on "
                   + $"{PlacementPlanner.DeviceName(decision.Device)}, {Environment.ProcessorCount} CPUs, {get_num_threads()} torch threads");
            Result($"load: {loadSeconds:F1} s = {loadSeconds / firstRead:F2} x the first read of the shard files"
                   + $"{(parse.GetValue(dropCaches) ? " (both cold)" : "")}; resident {Gb(ResidentBytes())}");

            var image = RgbImage.Filled(config.Vision.ImageSize, config.Vision.ImageSize, (90, 90, 90));
            var prompt = pipeline.Tokenize(pipeline.BuildPrompt("What is shown in this image? Describe the findings."));
            var positions = pipeline.PromptPositions(prompt);
            foreach (var rows in new[] { 1, batch }.Distinct())
            {
                Progress($"prefill of {positions} positions and {parse.GetValue(newTokens)} decode steps at batch {rows}");
                var (_, prefillSeconds, tokensPerSecond, steps) = TimeGeneration(pipeline, image, prompt, rows, parse.GetValue(newTokens));
                var prefillFlops = 2.0 * parameters * positions * rows / prefillSeconds;
                var bound = bandwidth / weightBytes * rows;
                var gemvBound = gemv / weightBytes * rows;
                Result($"batch {rows}: prefill {prefillSeconds:F1} s, {positions * rows / prefillSeconds:F1} positions/s ({prefillFlops / flops:P0} of the matmul peak); "
                       + $"decode {tokensPerSecond:F2} tokens/s over {steps} steps = {tokensPerSecond / bound:P0} of the memory-bandwidth bound "
                       + $"({bound:F2} tokens/s), {tokensPerSecond / gemvBound:P0} of libtorch's bare matrix-vector bound ({gemvBound:F2} tokens/s)");
            }
            var peak = PeakResidentBytes();
            Result($"memory: peak resident during load and generation {Gb(peak)} = weights {Gb(weightBytes)} + {Gb(peak - weightBytes)}; "
                   + $"load average {File.ReadAllText("/proc/loadavg").Trim()}");
            return 0;
        }));
        return command;
    }

    static (int, double, double, int) TimeGeneration(LlavaPipeline pipeline, RgbImage image, long[] prompt, int rows, int newTokens)
    {
        using var one = pipeline.Preprocess(image);
        using var pixels = one.repeat(rows, 1, 1, 1);
        var options = new GenerationOptions { MaxNewTokens = newTokens };
        var generator = new ResponseGenerator(pipeline.Model);
        var clock = Stopwatch.StartNew();
        double prefill = 0;
        int steps = 0;
        foreach (var step in generator.Stream(Enumerable.Repeat(prompt, rows).ToList(), pixels, options, []))
        {
            if (steps++ == 0) prefill = clock.Elapsed.TotalSeconds;
        }
        var decodeSeconds = clock.Elapsed.TotalSeconds - prefill;
        return (rows, prefill, steps > 1 ? (steps - 1) * rows / decodeSeconds : double.NaN, steps - 1);
    }

    static double TimeRead(IReadOnlyList<string> files)
    {
        var buffer = new byte[16 << 20];
        var clock = Stopwatch.StartNew();
        foreach (var file in files)
        {
            using var handle = File.OpenHandle(file);
            long offset = 0;
            int read;
            while ((read = RandomAccess.Read(handle, buffer, offset)) > 0) offset += read;
        }
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Bytes/s of a reduction over 2 GB (read once; the best of three).</summary>
    static double MemoryBandwidth(Device device)
    {
        using var data = ones([1L << 29], ScalarType.Float32, device);
        return Best(3, () => { using var total = data.sum(); _ = total.item<float>(); }, 4.0 * data.numel());
    }

    /// <summary>FLOP/s of a [512, d] x [d, d] product in the model's dtype, by the model's kernel
    /// (<see cref="ReducedPrecisionProducts"/>; the best of three).</summary>
    internal static double MatmulFlops(ScalarType dtype, Device device, int hidden)
    {
        using var a = ones(512, hidden, dtype, device);
        using var b = ones(hidden, hidden, dtype, device);
        return Best(3, () => { using var c = ReducedPrecisionProducts.Matmul(a, b); _ = c[0, 0].to(ScalarType.Float32).item<float>(); },
                    2.0 * 512 * hidden * hidden);
    }

    /// <summary>" (computed in float32: ...)" where <see cref="MatmulFlops"/>' product is widened on this CPU.</summary>
    internal static string ProductNote(ScalarType dtype, Device device) =>
        device.type == DeviceType.CPU && ReducedPrecisionProducts.WidensOnThisCpu(dtype)
            ? $" (computed in float32: this CPU has no {dtype.ToString().ToLowerInvariant()} instructions)" : "";

    /// <summary>Bytes/s of <c>linear</c> on one token over weights shaped like decoder layers (q, k, v, o, gate,
    /// up, down), four layers so that they do not fit in any cache: what decoding can reach through libtorch.</summary>
    static double GemvBandwidth(LlavaConfig config, ScalarType dtype, Device device)
    {
        long d = config.HiddenSize, kv = (long)config.NumKeyValueHeads * config.HeadDim, f = config.IntermediateSize;
        long[][] shapes = [[d, d], [kv, d], [kv, d], [d, d], [f, d], [f, d], [d, f]];
        var weights = Enumerable.Range(0, 4).SelectMany(_ => shapes).Select(s => ones(s, dtype, device)).ToList();
        try
        {
            using var x = ones(1, d, dtype, device);
            using var xf = ones(1, f, dtype, device);
            long bytes = weights.Sum(w => w.numel() * w.ElementSize);
            return Best(3, () =>
            {
                foreach (var w in weights)
                {
                    using var y = nn.functional.linear(w.shape[1] == d ? x : xf, w);
                }
                if (device.type == DeviceType.CUDA) cuda.synchronize();
            }, bytes);
        }
        finally
        {
            foreach (var w in weights) w.Dispose();
        }
    }

    static double Best(int tries, Action action, double units)
    {
        action(); // warm-up
        double best = double.MaxValue;
        for (int i = 0; i < tries; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return units / best;
    }

    static void DropPageCache()
    {
        using (var sync = Process.Start("sync")) sync?.WaitForExit();
        try
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "3");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new ArgumentException($"--drop-caches needs root (writing /proc/sys/vm/drop_caches failed: {e.Message})");
        }
    }

    /// <summary>Linux: writing 5 to clear_refs resets the peak resident size (VmHWM) to the current one.</summary>
    static void ResetPeakResident()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
    }

    static long PeakResidentBytes() => StatusBytes("VmHWM:");

    static long ResidentBytes() => StatusBytes("VmRSS:");

    static long StatusBytes(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        return 0;
    }

    static string Gb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:F2} GB");
}
