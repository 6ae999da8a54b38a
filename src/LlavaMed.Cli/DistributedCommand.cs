using System.CommandLine;
using System.Diagnostics;
using LlavaMed.Checkpoints;
using LlavaMed.Distributed;

namespace LlavaMed.Cli;

/// <summary><c>llava-med distributed check</c>: every collective of the job's process group on known values (run it
/// under <c>mpirun</c> to check an installation), and <see cref="Run"/>, which every command that can run under a
/// launcher uses: it joins the job's process group and, when a rank fails, names the rank and aborts the whole job.</summary>
public static class DistributedCommand
{
    public static Option<string> BackendOption() => new("--backend")
    {
        Description = "collectives under a launcher: mpi (CPU tensors) or nccl (CUDA tensors)", DefaultValueFactory = _ => "mpi",
    };

    public static Option<double> TimeoutOption() => new("--collective-timeout")
    {
        Description = "seconds a collective may wait for the other ranks before the job is aborted",
        DefaultValueFactory = _ => new CollectiveOptions().Timeout.TotalSeconds,
    };

    public static CollectiveOptions Options(ParseResult parse, Option<string> backend, Option<double> timeout) => new()
    {
        Backend = parse.GetValue(backend) switch
        {
            "mpi" => CollectiveBackend.Mpi,
            "nccl" => CollectiveBackend.Nccl,
            var other => throw new ArgumentException($"unknown --backend '{other}' (mpi or nccl)"),
        },
        Timeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
    };

    public static Command Create()
    {
        var backend = BackendOption();
        var timeout = TimeoutOption();
        var chunk = new Option<long?>("--chunk-elements") { Description = "most elements per MPI call (to check chunking)" };
        // Failure injection for the tests of failure handling: this rank fails before the first collective.
        var failRank = new Option<int?>("--fail-rank") { Hidden = true };
        var failHow = new Option<string>("--fail-how") { Hidden = true, DefaultValueFactory = _ => "throw" };
        var check = new Command("check", "Run every collective on known values on each rank of the job (under mpirun or srun)")
        {
            backend, timeout, chunk, failRank, failHow,
        };
        check.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            var options = Options(parse, backend, timeout);
            if (parse.GetValue(chunk) is { } elements) options = options with { MaxElementsPerCall = elements };
            return Run(options, stderr, group =>
            {
                if (parse.GetValue(failRank) == group.Rank) Fail(parse.GetValue(failHow)!);
                int failed = 0;
                foreach (var result in CollectiveSelfTest.Checks(group))
                {
                    if (!result.Passed) failed++;
                    stdout.WriteLine($"rank {group.Rank}/{group.WorldSize} {group.Backend}: {result.Name}: {(result.Passed ? "ok" : $"FAILED (max error {result.MaxError})")}");
                }
                stdout.Flush();
                if (failed > 0) throw new InvalidDataException($"{failed} collective checks failed");
                return 0;
            });
        }));
        return new Command("distributed", "Data-parallel runs: check the collectives of an MPI or NCCL job, benchmark N ranks against one process")
        {
            check, BenchCommand(),
        };
    }

    static Command BenchCommand()
    {
        var ranks = new Option<int>("--ranks") { Description = "ranks of the data-parallel run", DefaultValueFactory = _ => 2 };
        var batch = new Option<int>("--batch-size") { Description = "samples per batch on each rank (the single process takes ranks x this)", DefaultValueFactory = _ => 4 };
        var figures = new Option<int>("--figures") { Description = "synthetic alignment pairs to train on (one epoch)", DefaultValueFactory = _ => 96 };
        var cache = new Option<string?>("--cache") { Description = "folder for the corpus, the demo checkpoint and the runs (default: .cache/distributed-bench)" };
        var bench = new Command("bench", "Train the demo model one epoch with N ranks (mpirun, one thread each) and alone with the same global batch; "
                                         + "report samples/s and each run's time in communication and compute") { ranks, batch, figures, cache };
        bench.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            int n = parse.GetValue(ranks), perRank = parse.GetValue(batch);
            if (n < 2) throw new ArgumentException("--ranks must be at least 2");
            var folder = parse.GetValue(cache) ?? Path.Combine(Workbench.WorkbenchPaths.CacheRoot(), "distributed-bench");
            var corpus = Data.Synthetic.SyntheticCorpus.EnsureGenerated(Path.Combine(folder, "corpora"),
                new Data.Synthetic.SyntheticCorpusOptions(Figures: parse.GetValue(figures), GeneralScenes: 0, ChatEvalFigures: 0)).Layout;
            var demo = Checkpoints.DemoCheckpoint.EnsureCreated(Path.Combine(folder, "demo-checkpoint"));
            long gradientElements;
            using (var tensors = Checkpoints.CheckpointTensors.Open(demo.ModelFolder))
                gradientElements = tensors.Names.Where(name => !name.StartsWith(Checkpoints.CheckpointLoader.TowerPrefix, StringComparison.Ordinal))
                    .Sum(name => { using var t = tensors.ReadTensor(name); return t.numel(); });
            var loadBefore = Benchmarks.DataPipelineBenchmark.LoadAverage();
            double copyBound = Benchmarks.DataParallelBenchmarkResult.MeasureMemoryCopy();

            Benchmarks.DataParallelRun Train(int processes, int batchPerRank)
            {
                var output = Path.Combine(folder, $"run-{processes}");
                if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
                string[] train = ["train", "--stage", "downstream", "--init", demo.ModelFolder, "--data", corpus.Alignment, "--image-root", corpus.Images,
                                  "--epochs", "1", "--grad-accum", "1", "--max-length", "256", "--seed", "0", "--lr", "1e-4",
                                  "--batch-size", batchPerRank.ToString(), "--out", output];
                string[] launcher = processes == 1 ? [] : ["mpirun", "-np", processes.ToString(), "--allow-run-as-root", "--bind-to", "none", "-x", "OMP_NUM_THREADS=1"];
                var start = new ProcessStartInfo(launcher.Length > 0 ? launcher[0] : SelfCommand()[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var argument in launcher.Skip(1).Concat(launcher.Length > 0 ? SelfCommand() : SelfCommand().Skip(1)).Concat(train))
                    start.ArgumentList.Add(argument);
                start.Environment["OMP_NUM_THREADS"] = "1";
                start.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"; // works in containers too
                stderr.WriteLine($"running {processes} process(es) x batch {batchPerRank}");
                using var process = Process.Start(start)!;
                var errors = process.StandardError.ReadToEndAsync();
                process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0) throw new InvalidOperationException($"the {processes}-process run failed ({process.ExitCode}): {errors.Result.Trim()}");
                return Benchmarks.DataParallelRun.FromLog(output, processes, batchPerRank, gradientElements);
            }

            var alone = Train(1, n * perRank);
            var parallel = Train(n, perRank);
            stdout.WriteLine(new Benchmarks.DataParallelBenchmarkResult(alone, parallel, copyBound, Environment.ProcessorCount, loadBefore,
                                                                        Benchmarks.DataPipelineBenchmark.LoadAverage()));
            return 0;
        }));
        return bench;
    }

    /// <summary>How to start this command line again: the apphost, or <c>dotnet llava-med.dll</c>.</summary>
    static string[] SelfCommand()
    {
        var path = Environment.ProcessPath!;
        return Path.GetFileName(path) == "llava-med" ? [path] : ["dotnet", Path.Combine(AppContext.BaseDirectory, "llava-med.dll")];
    }

    static void Fail(string how)
    {
        switch (how)
        {
            case "throw": throw new InvalidOperationException("injected failure");
            case "exit": Environment.Exit(3); break;
            case "kill": Process.GetCurrentProcess().Kill(); break;
            case "hang": Thread.Sleep(Timeout.Infinite); break;
            default: throw new ArgumentException($"unknown --fail-how '{how}'");
        }
    }

    /// <summary>Runs <paramref name="action"/> in the process group the launcher's environment describes (alone: world
    /// size 1, no MPI). When a rank of a job fails, it writes one line naming the rank and aborts the job, so the other
    /// ranks end at once instead of waiting in a collective.</summary>
    public static int Run(CollectiveOptions options, TextWriter stderr, Func<ProcessGroup, int> action)
    {
        ProcessGroup group;
        try
        {
            group = ProcessGroup.Create(LaunchEnvironment.FromProcess(), options);
        }
        catch (DistributedException e) when (Environment.GetEnvironmentVariable("LLAVAMED_DEBUG") != "1")
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
        using var owned = group;
        try
        {
            return action(group);
        }
        catch (Exception e) when (group.WorldSize > 1)
        {
            var detail = Environment.GetEnvironmentVariable("LLAVAMED_DEBUG") == "1" ? e.ToString() : e.Message;
            stderr.WriteLine($"error: rank {group.Rank} of {group.WorldSize} failed, aborting the job: {detail}");
            stderr.Flush();
            group.Abort(1);
            return 1;
        }
    }
}
