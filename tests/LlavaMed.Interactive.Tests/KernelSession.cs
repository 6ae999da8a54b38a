using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;

namespace LlavaMed.Interactive.Tests;

/// <summary>A real C# kernel in the test process, as dotnet-interactive and dotnet-repl build theirs (kernel helpers
/// such as <c>display</c>), with the workbench adapter loaded. The notebook library is this test's own build: its
/// assemblies are the ones the kernel's <c>#r</c>s name.</summary>
public sealed class KernelSession : IDisposable
{
    public CSharpKernel Kernel { get; } = new CSharpKernel().UseKernelHelpers().UseValueSharing();

    public void Dispose() => Kernel.Dispose();

    /// <summary>The path a notebook's <c>#r "../artifacts/notebook-lib/NAME.dll"</c> stands for in this process.</summary>
    public static string LibraryAssembly(string fileName) => Path.Combine(AppContext.BaseDirectory, fileName);

    /// <summary>A kernel that has referenced the library and loaded the adapter (as a notebook's <c>#r</c> cell does).</summary>
    public static async Task<KernelSession> StartAsync()
    {
        var session = new KernelSession();
        await session.SubmitAsync(string.Concat(
            new[] { "LlavaMed.dll", "LlavaMed.Interactive.dll", "TorchSharp.dll", "Microsoft.Data.Analysis.dll", "SkiaSharp.dll" }
                .Select(name => $"#r \"{LibraryAssembly(name)}\"\n"))
            + "LlavaMed.Interactive.WorkbenchKernelExtension.Load(Microsoft.DotNet.Interactive.Kernel.Root);");
        return session;
    }

    /// <summary>Runs <paramref name="code"/> as one cell and returns its events; fails with the kernel's message when
    /// the cell fails.</summary>
    public async Task<IReadOnlyList<KernelEvent>> SubmitAsync(string code)
    {
        var result = await Kernel.SendAsync(new SubmitCode(code), TestContext.Current.CancellationToken);
        var failure = result.Events.OfType<CommandFailed>().FirstOrDefault();
        Assert.True(failure is null, $"cell failed: {failure?.Message}\n{code}");
        return result.Events;
    }

    /// <summary>The text/html of every display and return value of <paramref name="events"/>, in order.</summary>
    public static IReadOnlyList<string> Html(IEnumerable<KernelEvent> events) =>
        events.OfType<DisplayEvent>()
            .Select(e => e.FormattedValues.SingleOrDefault(v => v.MimeType == HtmlFormatter.MimeType)?.Value)
            .OfType<string>().ToList();

    public T Variable<T>(string name)
    {
        Assert.True(Kernel.TryGetValue<T>(name, out var value), $"the kernel has no variable {name} of type {typeof(T).Name}");
        return value;
    }
}
