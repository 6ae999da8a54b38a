using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Formatting;

namespace LlavaMed.Interactive;

/// <summary>An output that a cell replaces while it runs (a live loss chart, a progress log): <c>var view =
/// LiveOutput.Show(placeholder); ... view.Update(chart);</c>. The kernel's own <c>display(...)</c> cannot do it in
/// .NET Interactive 1.0.0-beta.26120.1, its last release: the handle it returns is a second DisplayedValue with an id
/// of its own, not the one of the output it produced, so front ends cannot find the output an update is meant for and
/// add one output per update. This handle is the displayed value itself, so every update carries the output's id.</summary>
public static class LiveOutput
{
    public static DisplayedValue Show(object value, params string[] mimeTypes) =>
        (KernelInvocationContext.Current ?? throw new InvalidOperationException("LiveOutput.Show runs inside a notebook cell"))
        .Display(value, mimeTypes);
}
