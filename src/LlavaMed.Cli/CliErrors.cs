using System.CommandLine;
using LlavaMed.Checkpoints;
using LlavaMed.Data;
using LlavaMed.Models;

namespace LlavaMed.Cli;

/// <summary>Turns expected failures (missing files, bad checkpoints, bad arguments) into one clear line and exit
/// code 1. The stack trace appears only with LLAVAMED_DEBUG=1.</summary>
public static class CliErrors
{
    public static int Run(ParseResult parse, Func<TextWriter, TextWriter, int> action)
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        try
        {
            return action(output, error);
        }
        catch (Exception e) when (IsExpected(e) && Environment.GetEnvironmentVariable("LLAVAMED_DEBUG") != "1")
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    static bool IsExpected(Exception e) => e is CheckpointFormatException or ModelConfigException or FileNotFoundException
        or DirectoryNotFoundException or InvalidDataException or ArgumentException or NotSupportedException
        or KeyNotFoundException or IOException or MemoryPreflightException; // DataFormatException is an IOException
}
