using System.Net;
using LlavaMed.Views;

namespace LlavaMed.Plotting;

/// <summary>A rendered Plotly chart (see <see cref="Charts"/>). Notebooks display it as HTML: <see cref="Html"/> embeds
/// plotly.js itself, <see cref="HtmlSharingPlotlyJs"/> relies on one <see cref="PlotlyScriptElement"/> elsewhere on the
/// page (the notebook kernel adapter sends that once per notebook); either way charts work offline. The same chart
/// description also renders to static PNG and SVG files for papers (<see cref="SavePng"/>, <see cref="SaveSvg"/>)
/// through ScottPlot, without a browser.</summary>
public sealed class Chart : IHtmlView
{
    private readonly Lazy<string> html;

    /// <summary>The size Plotly draws at, and the default size of static exports, in pixels.</summary>
    public const int DefaultWidth = 720, DefaultHeight = 440;

    internal Chart(ChartSpec spec, string figureHtml)
    {
        Spec = spec;
        Title = spec.Title;
        FigureHtml = figureHtml;
        html = new Lazy<string>(() => $"<div class=\"llavamed-chart\">{PlotlyScriptElement()}{FigureHtml}</div>");
    }

    public string? Title { get; }

    internal ChartSpec Spec { get; }

    /// <summary>A stand-alone fragment: plotly.js (about 3.6 MB, evaluated only if the page has no Plotly yet)
    /// followed by the chart.</summary>
    public string Html => html.Value;

    /// <summary>The chart without plotly.js (a few kilobytes): drawn at once when the page has plotly.js already, and
    /// otherwise queued until a <see cref="PlotlyScriptElement"/> later on the page loads it.</summary>
    public string HtmlSharingPlotlyJs => $"<div class=\"llavamed-chart\">{PlotlyQueueElement}{FigureHtml}</div>";

    /// <summary>The chart's div and drawing script, without plotly.js.</summary>
    internal string FigureHtml { get; }

    /// <summary>Writes a complete HTML page holding this chart.</summary>
    public void SaveHtml(string path) => Charts.SavePage(path, Title ?? "Chart", [this]);

    /// <summary>The chart as a PNG image of <paramref name="width"/> x <paramref name="height"/> pixels.</summary>
    public byte[] ToPng(int width = DefaultWidth, int height = DefaultHeight) => StaticChartRenderer.Png(Spec, width, height);

    /// <summary>The chart as an SVG document (vector graphics for papers).</summary>
    public string ToSvg(int width = DefaultWidth, int height = DefaultHeight) => StaticChartRenderer.Svg(Spec, width, height);

    /// <summary>Writes <see cref="ToPng"/> to <paramref name="path"/> (folders created).</summary>
    public void SavePng(string path, int width = DefaultWidth, int height = DefaultHeight) =>
        File.WriteAllBytes(Charts.PrepareFolder(path), ToPng(width, height));

    /// <summary>Writes <see cref="ToSvg"/> to <paramref name="path"/> (folders created).</summary>
    public void SaveSvg(string path, int width = DefaultWidth, int height = DefaultHeight) =>
        File.WriteAllText(Charts.PrepareFolder(path), ToSvg(width, height));

    public override string ToString() => Title is null ? "Chart" : $"Chart: {Title}";

    /// <summary>A script element holding plotly.js (about 3.6 MB). It does nothing when the page has plotly.js already;
    /// otherwise it loads it and then draws the charts that were queued before it (<see cref="HtmlSharingPlotlyJs"/>);
    /// a queued chart whose output a live update has replaced meanwhile has no div any more and is passed over.</summary>
    public static string PlotlyScriptElement() =>
        // plotly.js is a UMD bundle: hiding AMD/CommonJS loaders (e.g. a notebook's require.js) makes it always set
        // the global Plotly that the figures call.
        "<script type=\"text/javascript\">if (typeof window.Plotly === 'undefined' || window.Plotly.llavamedQueue) {\n"
        + "var llavamedQueue = window.Plotly ? window.Plotly.llavamedQueue : [];\n(function (define, module, exports) {\n"
        + PlottingRenderer.PlotlyJavaScript
        + "\n}).call(window);\n"
        + "llavamedQueue.forEach(function (call) { try { window.Plotly.newPlot.apply(window.Plotly, call); } catch (e) { } }); }</script>";

    /// <summary>Until plotly.js is loaded, <c>Plotly.newPlot</c> only remembers its arguments.</summary>
    const string PlotlyQueueElement =
        "<script type=\"text/javascript\">if (typeof window.Plotly === 'undefined') { window.Plotly = { llavamedQueue: [], "
        + "newPlot: function () { window.Plotly.llavamedQueue.push(arguments); } }; }</script>";

    internal static string Page(string title, IEnumerable<Chart> charts) =>
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\" />\n"
        + $"<title>{WebUtility.HtmlEncode(title)}</title>\n{PlotlyScriptElement()}\n</head>\n<body>\n"
        + string.Join("\n", charts.Select(chart => chart.FigureHtml))
        + "\n</body>\n</html>\n";
}
