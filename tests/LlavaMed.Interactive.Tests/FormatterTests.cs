using LlavaMed.Notebooks;
using LlavaMed.Views;
using LlavaMed.Workbench;
using Microsoft.DotNet.Interactive.Events;

// The formatters and the plotly.js bookkeeping are process-wide, and the notebook tests change the working directory.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace LlavaMed.Interactive.Tests;

/// <summary>What a cell shows when it ends with a value of the workbench's types, formatted by a real C# kernel with
/// the adapter loaded.</summary>
public sealed class FormatterTests
{
    const string PlotlyJsBanner = "plotly.js v2.";

    static async Task<string> ShowAsync(string expression)
    {
        using var session = await KernelSession.StartAsync();
        var events = await session.SubmitAsync(expression);
        var returned = Assert.Single(events.OfType<ReturnValueProduced>());
        return Assert.Single(KernelSession.Html([returned]));
    }

    [Fact]
    public async Task TensorShowsShapeDtypeDeviceStatisticsAndFirstValues()
    {
        var html = await ShowAsync("TorchSharp.torch.tensor(new float[] { 1, 2, 3, 6 }, new long[] { 2, 2 })");

        Assert.Contains("<td>[2, 2]</td><td>Float32</td><td>cpu</td><td>4</td><td>min 1, max 6, mean 3</td><td>[1, 2, 3, 6]</td>", html);
    }

    [Fact]
    public async Task ImagesShowAsInlinePng()
    {
        var rgb = await ShowAsync("LlavaMed.Images.RgbImage.Filled(4, 3, (255, 0, 0))");
        var skia = await ShowAsync("new SkiaSharp.SKBitmap(5, 7)");

        Assert.Contains("<img src=\"data:image/png;base64,iVBORw0KGgo", rgb);
        Assert.Contains("<figcaption>4x3</figcaption>", rgb);
        Assert.Contains("<img src=\"data:image/png;base64,iVBORw0KGgo", skia);
        Assert.Contains("<figcaption>5x7</figcaption>", skia);
    }

    [Fact]
    public async Task DataFrameShowsAsATableWhenItsAssemblyCameFromAPlainReference()
    {
        var html = await ShowAsync("""
            new Microsoft.Data.Analysis.DataFrame(
                new Microsoft.Data.Analysis.StringDataFrameColumn("organ", new[] { "lung", "liver" }),
                new Microsoft.Data.Analysis.DoubleDataFrameColumn("accuracy", new[] { 0.5, 0.25 }))
            """);

        Assert.Contains("<thead><tr><th>organ</th><th>accuracy</th></tr></thead>", html);
        Assert.Contains("<tr><td>liver</td><td>0.25</td></tr>", html);
    }

    [Fact]
    public async Task WorkbenchResultsShowAsTables()
    {
        var answer = await ShowAsync("new LlavaMed.Evaluation.AnswerRecord(\"q7\", \"Is it?\", \"yes\", \"a1\", \"tiny\")");
        var progress = await ShowAsync("new LlavaMed.Training.TrainingProgress(\"downstream\", 1, 3, 10, 0.5, 2e-5, 4.0, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(12))");
        var report = await ShowAsync("new LlavaMed.Evaluation.VqaReport(null, new LlavaMed.Evaluation.StrictScores(4, 2, 2, 0, 0.25, 0.1, 0.5, 0.5, 0.3, 0.75, 0.4))");

        var answers = await ShowAsync("new List<LlavaMed.Evaluation.AnswerRecord> { new(\"q1\", \"A?\", \"no\", \"a1\", \"m\"), new(\"q2\", \"B?\", \"left\", \"a2\", \"m\") }");

        Assert.Contains("<tr><td>q7</td><td>Is it?</td><td>yes</td><td>tiny</td></tr>", answer);
        Assert.Contains("<tr><td>q1</td><td>A?</td><td>no</td><td>m</td></tr><tr><td>q2</td><td>B?</td><td>left</td><td>m</td></tr>", answers);
        Assert.Contains("<td>downstream</td><td>1</td><td>3/10</td><td>0.5000</td>", progress);
        Assert.Contains("<td>strict</td><td>closed_accuracy</td><td>50.0</td>", report);
    }

    [Fact]
    public async Task AsAKernelExtensionItRegistersTheSameFormatters()
    {
        using var session = new KernelSession();
        Microsoft.DotNet.Interactive.Formatting.Formatter.ResetToDefault();
        await new WorkbenchKernelExtension().OnLoadAsync(session.Kernel);

        var html = LlavaMed.Views.TensorSummary.Of(TorchSharp.torch.zeros(2)).ToHtml().Html;
        Assert.Equal(html, Microsoft.DotNet.Interactive.Formatting.Formatter.ToDisplayString(TorchSharp.torch.zeros(2), "text/html"));
        Assert.Contains("<td>[2]</td>", html);
    }

    [Fact]
    public async Task LoadReturnsTheWorkbenchInfoWithTheKernel()
    {
        using var session = new KernelSession();
        var events = await session.SubmitAsync(
            $"#r \"{KernelSession.LibraryAssembly("LlavaMed.Interactive.dll")}\"\n"
            + $"#r \"{KernelSession.LibraryAssembly("LlavaMed.dll")}\"\n"
            + "LlavaMed.Interactive.WorkbenchKernelExtension.Load(Microsoft.DotNet.Interactive.Kernel.Root)");

        var html = Assert.Single(KernelSession.Html(events.OfType<ReturnValueProduced>()));
        Assert.Contains($"<td>backend</td><td>TorchSharp-{WorkbenchInfo.Backend}</td>", html);
        Assert.Contains("<td>kernel</td><td>csharp, .NET Interactive 1.0.0-beta.26120.1</td>", html);
    }

    [Fact]
    public async Task PlotlyJsGoesOutOnceAsItsOwnOutputAndChartsCarryOnlyTheirFigures()
    {
        using var session = await KernelSession.StartAsync();
        static string Bar(string title) => $"LlavaMed.Plotting.Charts.Bar(new[] {{ \"a\", \"b\" }}, new[] {{ 1.0, 2.0 }}, \"{title}\")";

        var first = KernelSession.Html(await session.SubmitAsync(Bar("first")));
        var second = KernelSession.Html(await session.SubmitAsync(Bar("second")));

        Assert.Equal(2, first.Count);
        Assert.Contains(PlotlyJsBanner, first[0]);
        Assert.DoesNotContain("llavamed-chart", first[0]);
        Assert.All(first.Skip(1).Concat(second), chart => Assert.DoesNotContain(PlotlyJsBanner, chart));
        Assert.Contains("first", first[1]);
        Assert.Contains("second", Assert.Single(second));
    }

    [Fact]
    public async Task UpdatingADisplayedChartKeepsItsValueIdAndPlotlyJsStaysInItsOwnOutput()
    {
        using var session = await KernelSession.StartAsync();

        var events = await session.SubmitAsync("""
            var view = LlavaMed.Interactive.LiveOutput.Show(new LlavaMed.Views.HtmlView("<p>starting</p>"));
            foreach (var step in new[] { 1.0, 2.0, 3.0 })
                view.Update(LlavaMed.Plotting.Charts.Lines([new LlavaMed.Plotting.LineSeries("loss", new[] { 3.0, step })], $"loss after {step}"));
            """);

        var produced = events.OfType<DisplayedValueProduced>().ToList();
        var updated = events.OfType<DisplayedValueUpdated>().ToList();
        Assert.Equal(2, produced.Count);   // the placeholder, and plotly.js when the first chart is formatted
        var placeholder = Assert.Single(produced, e => KernelSession.Html([e])[0] == "<p>starting</p>");
        var plotlyJs = Assert.Single(produced, e => KernelSession.Html([e])[0].Contains(PlotlyJsBanner));
        Assert.Equal(3, updated.Count);
        Assert.All(updated, update => Assert.Equal(placeholder.ValueId, update.ValueId));
        Assert.NotEqual(placeholder.ValueId, plotlyJs.ValueId);
        Assert.All(KernelSession.Html(updated), chart => Assert.DoesNotContain(PlotlyJsBanner, chart));
        Assert.Contains("loss after 3", KernelSession.Html([updated[^1]])[0]);
    }

    /// <summary>Why <see cref="LiveOutput"/> exists: the handle of the kernel's own display(...) updates under an id
    /// that no output has, so front ends append every update instead of replacing the output.</summary>
    [Fact]
    public async Task TheKernelsOwnDisplayHandleUpdatesUnderAnIdNoOutputHas()
    {
        using var session = await KernelSession.StartAsync();

        var events = await session.SubmitAsync("var view = display(\"a\"); view.Update(\"b\");");

        var produced = Assert.Single(events.OfType<DisplayedValueProduced>());
        var updated = Assert.Single(events.OfType<DisplayedValueUpdated>());
        Assert.NotEqual(produced.ValueId, updated.ValueId);
    }
}
