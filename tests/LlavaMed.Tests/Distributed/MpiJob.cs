using System.Diagnostics;
using LlavaMed.Workbench;

namespace LlavaMed.Tests.Distributed;

/// <summary>Runs <c>llava-med</c> as an Open MPI job on this machine: <c>mpirun -np N --bind-to none</c> (two ranks
/// share the cores), one torch thread per rank, on loopback. Open MPI is installed on first use by
/// <c>environment/install-openmpi.sh</c> (as root, which CI is; elsewhere its one-line error fails the test: these
/// tests are never skipped).</summary>
public static class MpiJob
{
    static readonly Lazy<string?> InstallError = new(Install);

    public sealed record Result(int ExitCode, string Output, TimeSpan Elapsed, bool TimedOut);

    public static string CliAssembly => Path.Combine(AppContext.BaseDirectory, "llava-med.dll");

    public static void RequireOpenMpi()
    {
        if (InstallError.Value is { } error) Assert.Fail(error);
    }

    static string? Install()
    {
        var root = WorkbenchPaths.FindRepositoryRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("repository root not found");
        var start = new ProcessStartInfo("sh", [Path.Combine(root, "environment", "install-openmpi.sh")])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? null : $"environment/install-openmpi.sh failed ({process.ExitCode}): {error}{output.Result}".Trim();
    }

    /// <summary>Runs <c>mpirun -np ranks dotnet llava-med.dll args</c>, output and errors of every rank merged.</summary>
    public static Result Run(int ranks, IEnumerable<string> arguments, TimeSpan timeout)
    {
        RequireOpenMpi();
        var start = new ProcessStartInfo("mpirun") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["-np", ranks.ToString(), "--allow-run-as-root", "--bind-to", "none",
                                            "-x", "OMP_NUM_THREADS=1", "dotnet", CliAssembly])
            start.ArgumentList.Add(argument);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["OMP_NUM_THREADS"] = "1";
        // Containers (CI) often forbid the cross-process memory access of Open MPI's shared-memory single copy
        // ("Read -1, expected ..., errno = 1"); plain copies through the shared segment work everywhere.
        start.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool finished = process.WaitForExit(timeout);
        if (!finished) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        var text = output.ToString();
        TestContext.Current.TestOutputHelper?.WriteLine($"mpirun -np {ranks} llava-med {string.Join(' ', arguments)} -> {(finished ? process.ExitCode : "timed out")} in "
            + $"{clock.Elapsed.TotalSeconds:F1} s\n{text}");
        return new Result(finished ? process.ExitCode : -1, text, clock.Elapsed, !finished);
    }
}
