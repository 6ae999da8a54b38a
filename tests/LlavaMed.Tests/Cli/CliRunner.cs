using System.CommandLine;
using LlavaMed.Cli;

namespace LlavaMed.Tests.Cli;

/// <summary>Runs <c>llava-med</c> commands in-process, capturing what they write; the output goes to the test log.</summary>
public static class CliRunner
{
    public static (int ExitCode, string Output, string Error) Run(params string[] args) => Run(CliApp.Build(), args);

    public static (int ExitCode, string Output, string Error) Run(RootCommand root, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        TestContext.Current.TestOutputHelper?.WriteLine($"llava-med {string.Join(' ', args)} -> {exitCode}\n{output}{error}");
        return (exitCode, output.ToString(), error.ToString());
    }
}
