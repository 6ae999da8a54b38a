namespace LlavaMed.Data;

/// <summary>Resolves a record's image path under an image root. Record paths are relative (<c>synpic100132.jpg</c>,
/// <c>xmlab102/source.jpg</c>); absolute paths and paths that climb out of the root with <c>..</c> are rejected, so a
/// data file cannot make training read arbitrary files.</summary>
public static class ImagePaths
{
    /// <summary>The full path, or null with the reason in <paramref name="problem"/>.</summary>
    public static string? TryResolve(string imageRoot, string relative, out string? problem)
    {
        problem = null;
        var parts = relative.Split('/', '\\');
        if (string.IsNullOrWhiteSpace(relative)) problem = "empty image path";
        else if (Path.IsPathRooted(relative) || relative.StartsWith('/') || relative.StartsWith('\\') || (relative.Length > 1 && relative[1] == ':'))
            problem = $"absolute image path '{relative}'";
        else if (parts.Contains(".."))
            problem = $"image path '{relative}' leaves the image root";
        if (problem is not null) return null;
        var root = Path.GetFullPath(imageRoot);
        var full = Path.GetFullPath(Path.Combine([root, .. parts.Where(p => p.Length > 0 && p != ".")]));
        return full.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? full
            : Fail(out problem, $"image path '{relative}' leaves the image root");
    }

    /// <summary>The full path; an <see cref="InvalidDataException"/> for an absolute or escaping path.</summary>
    public static string Resolve(string imageRoot, string relative) =>
        TryResolve(imageRoot, relative, out var problem) ?? throw new InvalidDataException(problem);

    static string? Fail(out string? problem, string reason)
    {
        problem = reason;
        return null;
    }
}

/// <summary>An image a sample names that cannot be used: not found, or a path that is absolute or leaves the root.</summary>
public sealed record MissingImage(string SampleId, string Image, string Problem)
{
    public override string ToString() => $"{SampleId}: {Problem}";
}

/// <summary>Checks before training that every image the samples name exists under the image root, so a missing file
/// is a list up front rather than a crash hours into a run.</summary>
public static class ImageCheck
{
    /// <summary>Every sample whose image is missing or whose path is rejected, in sample order. Samples without an
    /// image (text-only turns) are fine. Each distinct path is looked up once.</summary>
    public static IReadOnlyList<MissingImage> FindMissing(IEnumerable<LlavaSample> samples, string imageRoot)
    {
        var verdicts = new Dictionary<string, string?>(StringComparer.Ordinal);
        var missing = new List<MissingImage>();
        foreach (var sample in samples)
        {
            if (sample.Image is not { } image) continue;
            if (!verdicts.TryGetValue(image, out var problem))
            {
                var full = ImagePaths.TryResolve(imageRoot, image, out problem);
                if (full is not null && !File.Exists(full)) problem = $"image '{image}' not found under {imageRoot}";
                verdicts[image] = problem;
            }
            if (problem is not null) missing.Add(new MissingImage(sample.Id, image, problem));
        }
        return missing;
    }
}
