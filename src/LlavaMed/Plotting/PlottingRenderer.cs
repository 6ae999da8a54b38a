using System.Reflection;
using System.Runtime.Loader;

namespace LlavaMed.Plotting;

/// <summary>Loads LlavaMed.Plotting (Plotly.NET) from the <c>plotting/</c> folder beside this assembly into its own
/// AssemblyLoadContext. Plotly.NET needs a newer FSharp.Core than .NET Interactive kernels load, so it must not
/// share the host's; only strings cross the boundary.</summary>
internal static class PlottingRenderer
{
    public const string FolderName = "plotting";
    private const string RendererAssemblyName = "LlavaMed.Plotting";
    private const string RendererTypeName = "LlavaMed.Plotting.ChartRenderer";

    private static readonly Lazy<Func<string, string>> RenderFigureEntry = new(() => Entry<Func<string, string>>("RenderFigure"));
    private static readonly Lazy<string> PlotlyJavaScriptSource = new(() => Entry<Func<string>>("PlotlyJavaScript")());
    private static readonly Lazy<Assembly> RendererAssembly = new(LoadRenderer);

    /// <summary>The chart's div and drawing script (no plotly.js).</summary>
    public static string RenderFigure(ChartSpec spec) =>
        RenderFigureEntry.Value(System.Text.Json.JsonSerializer.Serialize(spec, ChartSpecJson.Default.ChartSpec));

    /// <summary>plotly.js itself (about 3.6 MB), as shipped inside Plotly.NET.</summary>
    public static string PlotlyJavaScript => PlotlyJavaScriptSource.Value;

    public static string Folder
    {
        get
        {
            // Location is empty for in-memory or single-file loads; the app folder is the best guess then.
            var location = typeof(PlottingRenderer).Assembly.Location;
            var baseFolder = string.IsNullOrEmpty(location) ? AppContext.BaseDirectory : Path.GetDirectoryName(location)!;
            return Path.Combine(baseFolder, FolderName);
        }
    }

    private static T Entry<T>(string methodName) where T : Delegate =>
        RendererAssembly.Value.GetType(RendererTypeName, throwOnError: true)!
            .GetMethod(methodName, BindingFlags.Public | BindingFlags.Static)!
            .CreateDelegate<T>();

    private static Assembly LoadRenderer()
    {
        var folder = Folder;
        var path = Path.Combine(folder, RendererAssemblyName + ".dll");
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"LlavaMed's chart renderer is missing: {path}. The build copies it there from src/LlavaMed.Plotting; "
                + "rebuild (or republish) LlavaMed.", path);
        return new RendererLoadContext(folder).LoadFromAssemblyPath(path);
    }

    /// <summary>Prefers the renderer's own copies (FSharp.Core, Plotly.NET, ...) and falls back to the default
    /// context for everything else, i.e. the shared framework.</summary>
    private sealed class RendererLoadContext(string folder) : AssemblyLoadContext(RendererAssemblyName)
    {
        protected override Assembly? Load(AssemblyName assemblyName)
        {
            var candidate = Path.Combine(folder, assemblyName.Name + ".dll");
            return File.Exists(candidate) ? LoadFromAssemblyPath(candidate) : null;
        }
    }
}
