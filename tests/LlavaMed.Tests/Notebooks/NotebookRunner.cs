using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using LlavaMed.Workbench;

namespace LlavaMed.Tests.Notebooks;

/// <summary>Runs notebooks headlessly with the repository's dotnet-repl, the way VS Code would run them (working
/// directory = the notebook's folder). Created once per test run: it restores the local tools and publishes the
/// library to artifacts/notebook-lib/ first, as notebooks/build-library.csx would.</summary>
public sealed class NotebookRunner
{
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan NotebookTimeout = TimeSpan.FromMinutes(2);

    private readonly ConcurrentDictionary<string, Lazy<NotebookRun>> runs = new();

    public NotebookRunner()
    {
        RepositoryRoot = WorkbenchPaths.FindRepositoryRoot(AppContext.BaseDirectory)
                         ?? throw new InvalidOperationException("tests must run inside the repository checkout");
        RunDotnet(["tool", "restore"], RepositoryRoot, PublishTimeout, environment: null);
        // The same command as notebooks/build-library.csx, run unconditionally: it is incremental.
        RunDotnet(["publish", "src/LlavaMed.Interactive/LlavaMed.Interactive.csproj", "-c", "Release", "-r", RuntimeInformation.RuntimeIdentifier,
                   "--self-contained", "false", "-o", Path.Combine(RepositoryRoot, "artifacts", "notebook-lib"), "-nologo"],
                  RepositoryRoot, PublishTimeout, environment: null);
    }

    public string RepositoryRoot { get; }

    public string NotebooksFolder => Path.Combine(RepositoryRoot, "notebooks");

    /// <summary>The committed notebooks, found without building anything.</summary>
    public static IEnumerable<string> NotebookPaths() =>
        Directory.EnumerateFiles(Path.Combine(WorkbenchPaths.FindRepositoryRoot(AppContext.BaseDirectory)!, "notebooks"), "*.ipynb");

    public static IEnumerable<string> NotebookNames() => NotebookPaths().Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    /// <summary>Runs <paramref name="notebookName"/> (once per <paramref name="variant"/>) and returns the executed
    /// copy, written to artifacts/notebooks/. <paramref name="environment"/> adds variables for the kernel.</summary>
    public NotebookRun Run(string notebookName, string variant = "", IReadOnlyDictionary<string, string>? environment = null) =>
        runs.GetOrAdd(notebookName + "|" + variant,
                      _ => new Lazy<NotebookRun>(() => Execute(notebookName, variant, environment))).Value;

    private NotebookRun Execute(string notebookName, string variant, IReadOnlyDictionary<string, string>? environment)
    {
        var outputFolder = Path.Combine(RepositoryRoot, "artifacts", "notebooks");
        Directory.CreateDirectory(outputFolder);
        var outputName = variant.Length == 0
            ? notebookName
            : Path.GetFileNameWithoutExtension(notebookName) + "." + variant + ".ipynb";
        var outputPath = Path.Combine(outputFolder, outputName);
        File.Delete(outputPath);

        var stopwatch = Stopwatch.StartNew();
        var (exitCode, log) = RunDotnet(
            ["repl", "--run", notebookName, "--exit-after-run", "--output-path", outputPath],
            NotebooksFolder, NotebookTimeout, environment, throwOnFailure: false);
        stopwatch.Stop();

        var executed = File.Exists(outputPath) ? JsonNode.Parse(File.ReadAllText(outputPath))!.AsObject() : null;
        return new NotebookRun(notebookName, outputPath, exitCode, log, stopwatch.Elapsed, executed);
    }

    private static (int ExitCode, string Log) RunDotnet(IEnumerable<string> arguments, string workingDirectory,
        TimeSpan timeout, IReadOnlyDictionary<string, string>? environment, bool throwOnFailure = true)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // The test host may inherit MSBuild settings from `dotnet test`; a nested build must start clean.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;

        using var process = Process.Start(start)!;
        var standardError = process.StandardError.ReadToEndAsync();
        var standardOutput = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', start.ArgumentList)} ran longer than {timeout}");
        }
        var log = standardOutput.Result + standardError.Result;
        if (throwOnFailure && process.ExitCode != 0)
            throw new InvalidOperationException($"dotnet {string.Join(' ', start.ArgumentList)} failed ({process.ExitCode}):\n{log}");
        return (process.ExitCode, log);
    }
}

/// <summary>One headless run of a notebook: the exit code, the console log and the executed notebook.</summary>
public sealed record NotebookRun(string NotebookName, string OutputPath, int ExitCode, string Log, TimeSpan Elapsed,
                                 JsonObject? Executed)
{
    public IEnumerable<JsonObject> CodeCells =>
        Executed?["cells"]!.AsArray().Select(cell => cell!.AsObject())
            .Where(cell => (string?)cell["cell_type"] == "code") ?? [];

    /// <summary>The error outputs, as "ename: evalue" lines.</summary>
    public IReadOnlyList<string> Errors =>
        CodeCells.SelectMany(cell => cell["outputs"]!.AsArray())
            .Where(output => (string?)output!["output_type"] == "error")
            .Select(output => $"{(string?)output!["ename"]}: {(string?)output["evalue"]}")
            .ToList();

    /// <summary>Every text/html output joined together.</summary>
    public string Html => Outputs("text/html");

    /// <summary>Every text/plain output (strings and values a cell ends with) joined together.</summary>
    public string Text => Outputs("text/plain");

    string Outputs(string mimeType) => string.Concat(
        CodeCells.SelectMany(cell => cell["outputs"]!.AsArray())
            .Select(output => output!["data"]?[mimeType])
            .Where(data => data is not null)
            .Select(data => data is JsonArray lines ? string.Concat(lines.Select(line => (string?)line)) : (string?)data));

    /// <summary>Fails unless the notebook exited with 0 and no cell shows an error; logs the time it took.</summary>
    public NotebookRun AssertSucceeded()
    {
        TestContext.Current.TestOutputHelper?.WriteLine($"{NotebookName}: {Elapsed.TotalSeconds:F1} s");
        Assert.True(ExitCode == 0, Describe());
        Assert.True(Errors.Count == 0, Describe());
        return this;
    }

    /// <summary>The most an executed notebook may weigh: images and tables, plus plotly.js once.</summary>
    public const long MaxExecutedBytes = 5 * 1024 * 1024;

    /// <summary>Fails unless the executed copy weighs at most <see cref="MaxExecutedBytes"/> and holds plotly.js (3.6
    /// MB) at most once, and exactly once when it shows a chart.</summary>
    public NotebookRun AssertLight()
    {
        var bytes = new FileInfo(OutputPath).Length;
        var text = File.ReadAllText(OutputPath);
        var plotlyJsCopies = System.Text.RegularExpressions.Regex.Count(text, System.Text.RegularExpressions.Regex.Escape(PlotlyJsBanner));
        TestContext.Current.TestOutputHelper?.WriteLine($"{NotebookName}: {bytes:N0} bytes, plotly.js {plotlyJsCopies}x");
        Assert.True(bytes <= MaxExecutedBytes, $"{OutputPath}: {bytes:N0} bytes (at most {MaxExecutedBytes:N0})");
        var showsCharts = text.Contains("class=\\\"llavamed-chart\\\"", StringComparison.Ordinal);   // as escaped in the JSON
        Assert.True(plotlyJsCopies == (showsCharts ? 1 : 0),
                    $"{OutputPath}: plotly.js {plotlyJsCopies} times in a notebook {(showsCharts ? "with" : "without")} charts");
        return this;
    }

    /// <summary>The first line of the plotly.js bundle.</summary>
    public const string PlotlyJsBanner = "plotly.js v2.";

    public string Describe() =>
        $"{NotebookName}: exit code {ExitCode} after {Elapsed.TotalSeconds:F1} s; executed copy: {OutputPath}\n"
        + string.Join("\n", Errors) + "\n" + Log;
}
