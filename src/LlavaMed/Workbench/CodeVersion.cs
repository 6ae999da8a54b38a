using System.Reflection;

namespace LlavaMed.Workbench;

/// <summary>The workbench's version as the build stamped it: "1.0.0+{git commit}" when built from a clone. Written
/// into checkpoints' meta.json and part of every reuse key, so results of older code are never taken for new ones.</summary>
public static class CodeVersion
{
    public static string Current { get; } =
        typeof(CodeVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
