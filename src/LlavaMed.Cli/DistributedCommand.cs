using System.CommandLine;
using System.Diagnostics;
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
                foreach (var result in CollectiveSelfTest.Run(group))
                {
                    if (!result.Passed) failed++;
                    stdout.WriteLine($"rank {group.Rank}/{group.WorldSize} {group.Backend}: {result.Name}: {(result.Passed ? "ok" : $"FAILED (max error {result.MaxError})")}");
                }
                stdout.Flush();
                if (failed > 0) throw new InvalidDataException($"{failed} collective checks failed");
                return 0;
            });
        }));
        return new Command("distributed", "Data-parallel runs: check the collectives of an MPI or NCCL job") { check };
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
        using var group = ProcessGroup.Create(LaunchEnvironment.FromProcess(), options);
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
