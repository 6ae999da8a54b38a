namespace LlavaMed.Workbench;

/// <summary>Where the repository, the read-only shared fixtures and the workbench's cache live.</summary>
public static class WorkbenchPaths
{
    public const string SolutionFileName = "LlavaMed.Workbench.sln";
    public const string SharedEnvironmentVariable = "LLAVAMED_SHARED";

    /// <summary>The folder holding the solution file, searched upwards from <paramref name="start"/> (default: the
    /// current directory, then this assembly's folder); null when not inside a checkout.</summary>
    public static string? FindRepositoryRoot(string? start = null)
    {
        foreach (var origin in start is null
                     ? new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory }
                     : new[] { start })
        {
            for (var dir = new DirectoryInfo(origin); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, SolutionFileName)))
                    return dir.FullName;
        }
        return null;
    }

    /// <summary>The shared fixtures folder: <c>$LLAVAMED_SHARED</c>, else <c>../shared</c> beside the repository
    /// root. Returned whether or not it exists, so callers can say where they looked.</summary>
    public static string SharedRoot()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(SharedEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment)) return Path.GetFullPath(fromEnvironment);
        var root = FindRepositoryRoot() ?? Directory.GetCurrentDirectory();
        return Path.GetFullPath(Path.Combine(root, "..", "shared"));
    }

    /// <summary>The workbench's cache folder (generated checkpoints and corpora): <c>$LLAVAMED_CACHE</c>, else
    /// <c>.cache/</c> in the repository, else <c>~/.cache/llava-med</c>.</summary>
    public static string CacheRoot()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("LLAVAMED_CACHE");
        if (!string.IsNullOrWhiteSpace(fromEnvironment)) return Path.GetFullPath(fromEnvironment);
        var root = FindRepositoryRoot();
        return root is not null
            ? Path.Combine(root, ".cache")
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "llava-med");
    }
}
