using System.Reflection;
using System.Runtime.InteropServices;
using LlavaMed.Checkpoints;
using LlavaMed.Views;
using LlavaMed.Workbench;
using TorchSharp;

namespace LlavaMed.Notebooks;

/// <summary>Where and with what this process runs the workbench (the backend, devices, default dtype, folders and
/// versions), in one call, for the top of a notebook or a bug report: <c>WorkbenchInfo.Collect()</c>.</summary>
public sealed record WorkbenchInfo(IReadOnlyList<(string Name, string Value)> Items)
{
    /// <summary>The TorchSharp package the library was built against (<c>-p:LlavaMedBackend=cpu|cuda</c>).</summary>
    public static string Backend { get; } =
        typeof(WorkbenchInfo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "LlavaMedBackend")?.Value ?? "unknown";

    /// <summary>The facts of this process; <paramref name="extra"/> (e.g. the notebook kernel's version) go last.</summary>
    public static WorkbenchInfo Collect(IEnumerable<(string Name, string Value)>? extra = null)
    {
        var defaults = new LoadOptions();
        var cuda = torch.cuda.is_available();
        var shared = WorkbenchPaths.SharedRoot();
        return new WorkbenchInfo(
        [
            ("workbench", CodeVersion.Current),
            ("backend", $"TorchSharp-{Backend}"),
            ("devices", cuda ? $"cpu, cuda x {torch.cuda.device_count()}" : "cpu (no CUDA device)"),
            ("default load dtype / device", $"{defaults.Dtype} / {defaults.Device?.ToString() ?? "cpu"}"),
            ("CPU threads (libtorch / machine)", $"{torch.get_num_threads()} / {Environment.ProcessorCount}"),
            ("repository", WorkbenchPaths.FindRepositoryRoot() ?? "(not inside a checkout)"),
            ("cache", WorkbenchPaths.CacheRoot()),
            ("shared fixtures", Directory.Exists(shared) ? shared : $"{shared} (missing)"),
            ("library", Path.GetDirectoryName(typeof(WorkbenchInfo).Assembly.Location) is { Length: > 0 } folder ? folder : "(in memory)"),
            ("TorchSharp", Version(typeof(torch).Assembly)),
            (".NET", RuntimeInformation.FrameworkDescription),
            ("OS", $"{RuntimeInformation.OSDescription} ({RuntimeInformation.RuntimeIdentifier})"),
            .. extra ?? [],
        ]);
    }

    /// <summary>An assembly's informational version without the commit hash the SDK appends after '+'.</summary>
    public static string Version(Assembly assembly) =>
        (assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
         ?? assembly.GetName().Version?.ToString() ?? "unknown").Split('+')[0];

    public string this[string name] => Items.First(item => item.Name == name).Value;

    public HtmlView ToHtml() => HtmlView.Table(["", "LlavaMed workbench"], Items.Select(item => (IReadOnlyList<string>)[item.Name, item.Value]));

    public override string ToString() => string.Join("\n", Items.Select(item => $"{item.Name}: {item.Value}"));
}
