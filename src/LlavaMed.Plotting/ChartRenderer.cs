using System.Text.Json;
using Microsoft.FSharp.Core;
using Plotly.NET;
using Plotly.NET.CSharp;
using Chart = Plotly.NET.CSharp.Chart;

namespace LlavaMed.Plotting;

/// <summary>The renderer's entry points, called by LlavaMed through reflection from another AssemblyLoadContext:
/// strings in, strings out, so no Plotly.NET or FSharp.Core type is ever seen by the caller.</summary>
public static class ChartRenderer
{
    /// <summary>The chart's <c>&lt;div&gt;</c> and the script that draws it; expects plotly.js to be loaded already
    /// (see <see cref="PlotlyJavaScript"/>).</summary>
    public static string RenderFigure(string chartSpecJson)
    {
        var spec = JsonSerializer.Deserialize(chartSpecJson, ChartSpecJson.Default.ChartSpec)
                   ?? throw new ArgumentException("empty chart description", nameof(chartSpecJson));
        var chart = Build(spec);
        // Plotly draws heatmap cell values only with a text template (Plotly.NET has no argument for it).
        if (spec.ShowValues)
            chart = GenericChart.mapTrace(FuncConvert.FromFunc((Trace trace) =>
            {
                trace.SetProperty("texttemplate", "%{z}");
                return trace;
            }), chart);
        // Plotly.NET's F# functions take FSharpOption arguments, for which null means "not given".
        if (spec.Title is not null) chart = Plotly.NET.Chart.withTitle(spec.Title, null).Invoke(chart);
        if (spec.XTitle is not null) chart = chart.WithXAxisStyle<double, double, string>(Title: AxisTitle(spec.XTitle));
        if (spec.YTitle is not null) chart = chart.WithYAxisStyle<double, double, string>(Title: AxisTitle(spec.YTitle));
        return GenericChart.toChartHTML(chart.WithSize(Width: 720, Height: 440));
    }

    /// <summary>The minified plotly.js that Plotly.NET ships as a resource, so pages work offline.</summary>
    public static string PlotlyJavaScript()
    {
        var assembly = typeof(GenericChart).Assembly;
        var name = assembly.GetManifestResourceNames().Single(n => n.EndsWith(".min.js", StringComparison.Ordinal));
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static GenericChart Build(ChartSpec spec) => spec.Kind switch
    {
        ChartSpec.BarKind => Chart.Column<double, string, string>(
            values: Require(spec.Values, "Values"), Keys: Require(spec.Labels, "Labels")),
        ChartSpec.GroupedBarKind => Chart.Combine(Require(spec.Bars, "Bars").Select(series =>
            Chart.Column<double, string, string>(values: series.Values, Keys: Require(spec.Labels, "Labels"),
                                                 Name: series.Name, ShowLegend: true))),
        ChartSpec.LinesKind => Chart.Combine(Require(spec.Series, "Series").Select(series =>
            Chart.Line<double, double, string>(x: series.X, y: series.Y, Name: series.Name, ShowLegend: true))),
        ChartSpec.HeatmapKind => spec is { XLabels: not null, YLabels: not null }
            ? Chart.Heatmap<double, string, string, string>(
                zData: Require(spec.Z, "Z"), X: spec.XLabels, Y: spec.YLabels)
            : Chart.Heatmap<double, int, int, string>(zData: Require(spec.Z, "Z")),
        _ => throw new ArgumentException($"unknown chart kind '{spec.Kind}'"),
    };

    private static Title AxisTitle(string text) =>
        Title.init(FSharpOption<string>.Some(text), null, null, null, null, null, null, null, null, null, null, null);

    private static T Require<T>(T? value, string name) where T : class =>
        value ?? throw new ArgumentException($"chart description lacks {name}");
}
