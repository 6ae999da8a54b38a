using System.Runtime.Loader;
using LlavaMed.Plotting;
using LlavaMed.Views;

namespace LlavaMed.Tests.Plotting;

public class ChartsTests
{
    private const string PlotlyJsBanner = "plotly.js v2.";

    [Fact]
    public void BarChartIsAStandAloneFragmentWithEmbeddedPlotlyJs()
    {
        var chart = Charts.Bar(["yes", "no", "maybe"], new[] { 0.7f, 0.2f, 0.1f }, "Top tokens", yTitle: "probability");

        Assert.Contains(PlotlyJsBanner, chart.Html);
        Assert.Contains("Plotly.newPlot", chart.Html);
        Assert.Contains("\"maybe\"", chart.Html);
        Assert.Contains("Top tokens", chart.Html);
        Assert.DoesNotContain("<script src", chart.Html, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("Chart: Top tokens", chart.ToString());
    }

    [Fact]
    public void RendererRunsWithItsOwnFSharpCoreOutsideTheDefaultLoadContext()
    {
        _ = Charts.Bar(["a"], new[] { 1.0 });

        Assert.DoesNotContain(AssemblyLoadContext.Default.Assemblies, a => a.GetName().Name == "FSharp.Core");
        var renderer = Assert.Single(AssemblyLoadContext.All, context => context.Name == "LlavaMed.Plotting");
        var fsharpCore = Assert.Single(renderer.Assemblies, a => a.GetName().Name == "FSharp.Core");
        Assert.StartsWith(Path.Combine(AppContext.BaseDirectory, "plotting"), fsharpCore.Location);
    }

    [Fact]
    public void LinesAndHeatmapRender()
    {
        var lines = Charts.Lines([new LineSeries("train", [3.0, 2.0, 1.5]), new LineSeries("eval", [1.0, 3.0], [2.5, 2.0])],
                                 "Loss", xTitle: "step", yTitle: "loss");
        Assert.Contains("\"name\":\"train\"", lines.Html);
        Assert.Contains("\"name\":\"eval\"", lines.Html);

        var heatmap = Charts.Heatmap(new float[,] { { 0.1f, 0.9f }, { 0.5f, 0.5f } }, xLabels: ["k1", "k2"], title: "Attention");
        Assert.Contains("\"type\":\"heatmap\"", heatmap.Html);
        Assert.Contains("\"k2\"", heatmap.Html);
    }

    [Fact]
    public void MismatchedInputsAreRejectedAtTheCallSite()
    {
        Assert.Throws<ArgumentException>(() => Charts.Bar(["a", "b"], new[] { 1.0 }));
        Assert.Throws<ArgumentException>(() => Charts.Lines([new LineSeries("x", [1.0], [1.0, 2.0])]));
        Assert.Throws<ArgumentException>(() => Charts.Heatmap(new double[2, 3], xLabels: ["only", "two"]));
    }

    [Fact]
    public void PageEmbedsPlotlyJsOnceForSeveralCharts()
    {
        var path = Path.Combine(Path.GetTempPath(), $"llavamed-charts-{Guid.NewGuid():N}", "page.html");
        try
        {
            Charts.SavePage(path, "Two charts", [Charts.Bar(["a"], new[] { 1.0 }, "first"), Charts.Bar(["b"], new[] { 2.0 }, "second")]);

            var page = File.ReadAllText(path);
            Assert.StartsWith("<!DOCTYPE html>", page);
            Assert.Single(AllIndexesOf(page, PlotlyJsBanner));
            Assert.Equal(2, AllIndexesOf(page, "var renderPlotly_").Count);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void ChartSharingPlotlyJsCarriesOnlyItsFigureAndWaitsForTheOnePlotlyJsOfThePage()
    {
        var chart = Charts.Bar(["a", "b"], new[] { 1.0, 2.0 }, "shared");

        var shared = chart.HtmlSharingPlotlyJs;

        Assert.DoesNotContain(PlotlyJsBanner, shared);
        Assert.Contains("Plotly.newPlot", shared);
        Assert.True(shared.Length < 20_000, $"{shared.Length} characters");
        // Before plotly.js is there, a stand-in Plotly queues the figure; the script element replays the queue.
        Assert.True(shared.IndexOf("llavamedQueue.push", StringComparison.Ordinal) < shared.IndexOf("Plotly.newPlot", StringComparison.Ordinal));
        var script = Chart.PlotlyScriptElement();
        Assert.Contains(PlotlyJsBanner, script);
        Assert.True(script.IndexOf(PlotlyJsBanner, StringComparison.Ordinal) < script.IndexOf("llavamedQueue.forEach", StringComparison.Ordinal));
        Assert.Single(AllIndexesOf(chart.Html, PlotlyJsBanner));
    }

    [Fact]
    public void ImagesRoundTripThroughPngAndTablesAreEncoded()
    {
        var image = LlavaMed.Images.RgbImage.Filled(30, 20, (10, 200, 30));
        var png = image.EncodePng();
        Assert.Equal(image.Pixels, LlavaMed.Images.RgbImage.Decode(png).Pixels);
        Assert.StartsWith("<img src=\"data:image/png;base64,", HtmlView.Png(png).Html);
        Assert.Equal("<table><thead><tr><th>id</th></tr></thead><tbody><tr><td>&lt;image&gt;</td></tr></tbody></table>",
                     HtmlView.Table(["id"], [["<image>"]]).Html);
    }

    private static List<int> AllIndexesOf(string text, string value)
    {
        var indexes = new List<int>();
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal))
            indexes.Add(i);
        return indexes;
    }
}
