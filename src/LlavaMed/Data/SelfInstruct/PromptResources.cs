namespace LlavaMed.Data.SelfInstruct;

/// <summary>The default prompt and rule files of <c>data/prompts/</c>, embedded in the library so the CLI and
/// notebooks find them anywhere; a user's own file replaces any of them.</summary>
public static class PromptResources
{
    public const string SelfInstructSystem = "self-instruct-system.txt";
    public const string SelfInstructFewShot = "self-instruct-few-shot.json";
    public const string SelfInstructCleaning = "self-instruct-cleaning.json";
    public const string JudgeChat = "judge-chat.json";

    /// <summary>The embedded default, or the file at <paramref name="userPath"/> when one is given.</summary>
    public static string Read(string name, string? userPath = null)
    {
        if (userPath is not null) return File.ReadAllText(userPath);
        using var stream = typeof(PromptResources).Assembly.GetManifestResourceStream("LlavaMed.Prompts." + name)
                           ?? throw new FileNotFoundException($"embedded prompt resource '{name}' is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The name a loaded prompt reports in summaries: the user's file or "default:NAME".</summary>
    public static string Source(string name, string? userPath) => userPath is null ? $"default:{name}" : Path.GetFullPath(userPath);
}
