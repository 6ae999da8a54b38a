using System.Xml.Linq;
using LlavaMed.Plotting;
using SkiaSharp;

namespace LlavaMed.Tests.Plotting;

public sealed class StaticExportTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("llavamed-export-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    public static TheoryData<string> ChartKinds => new("bar", "grouped", "lines", "heatmap", "confusion");

    static Chart Make(string kind) => kind switch
    {
        "bar" => Charts.Bar(["yes", "no"], new[] { 0.7, 0.3 }, "Top tokens", yTitle: "probability"),
        "grouped" => Charts.GroupedBars(["CLOSED", "OPEN"], [new BarSeries("model", [0.6, 0.2]), new BarSeries("majority", [0.5, 0.05])],
                                        "Accuracy by answer type", yTitle: "accuracy"),
        "lines" => Charts.Lines([new LineSeries("train", [3.0, 2.0, 1.5]), new LineSeries("eval", [2.5, 2.2, 2.0])], "Loss"),
        "heatmap" => Charts.Heatmap(new float[,] { { 0.1f, 0.9f }, { 0.5f, 0.5f } }, title: "Attention"),
        "confusion" => Charts.ConfusionMatrix(new[,] { { 5, 1, 0 }, { 2, 7, 1 } }, ["yes", "no"], ["yes", "no", "neither"], "Yes/no"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(ChartKinds))]
    public void PngDecodesAtTheAskedSizeAndIsNotBlank(string kind)
    {
        var path = Path.Combine(folder, "figures", $"{kind}.png");
        Make(kind).SavePng(path, width: 640, height: 400);

        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        Assert.Equal((640, 400), (bitmap.Width, bitmap.Height));
        var colours = new HashSet<SKColor>();
        for (int y = 0; y < bitmap.Height; y += 4)
            for (int x = 0; x < bitmap.Width; x += 4)
                colours.Add(bitmap.GetPixel(x, y));
        Assert.True(colours.Count > 3, $"only {colours.Count} colours: an empty figure");
    }

    [Theory]
    [MemberData(nameof(ChartKinds))]
    public void SvgIsAnSvgDocumentOfTheAskedSize(string kind)
    {
        var path = Path.Combine(folder, $"{kind}.svg");
        Make(kind).SaveSvg(path, width: 500, height: 300);

        var root = XDocument.Load(path).Root!;
        Assert.Equal("svg", root.Name.LocalName);
        Assert.Equal("500", root.Attribute("width")?.Value);
        Assert.Equal("300", root.Attribute("height")?.Value);
        Assert.True(root.Descendants().Count() > 5);
    }

    [Fact]
    public void GroupedBarsDrawOneColourPerSeriesAndPlotlyNamesThem()
    {
        var chart = Make("grouped");
        Assert.Contains("\"name\":\"majority\"", chart.Html);

        using var bitmap = SKBitmap.Decode(chart.ToPng());
        Assert.Equal((Chart.DefaultWidth, Chart.DefaultHeight), (bitmap.Width, bitmap.Height));
        // ScottPlot's Category10 blue and orange, the two series' fills.
        var colours = Pixels(bitmap).ToHashSet();
        Assert.Contains(new SKColor(0x1f, 0x77, 0xb4), colours);
        Assert.Contains(new SKColor(0xff, 0x7f, 0x0e), colours);
    }

    [Fact]
    public void ConfusionMatrixShowsCountsWithTheFirstTruthRowOnTop()
    {
        var chart = Make("confusion");
        Assert.Contains("\"texttemplate\":\"%{z}\"", chart.Html);
        // Plotly draws y category 0 at the bottom: the reversed rows put "yes" on top.
        Assert.Contains("\"y\":[\"no\",\"yes\"]", chart.Html);
        Assert.Contains("[2.0,7.0,1.0]", chart.Html.Replace(" ", ""));
    }

    [Fact]
    public void TextIsSetInTheEmbeddedFontSoItIsDrawnWithoutInstalledFonts()
    {
        using var typeface = new EmbeddedFont().CreateTypeface(EmbeddedFont.FamilyName, bold: true, italic: false);
        Assert.NotNull(typeface);
        Assert.Equal("DejaVu Sans", typeface.FamilyName);
        Assert.True(typeface.GlyphCount > 1000);
        Assert.Null(new EmbeddedFont().CreateTypeface("Some Other Font", bold: false, italic: false));

        // The same heatmap with and without its cell values differs only by the text: it is drawn.
        var spec = new ChartSpec { Kind = ChartSpec.HeatmapKind, Z = [[1.0, 2.0], [3.0, 4.0]] };
        using var withText = SKBitmap.Decode(StaticChartRenderer.Png(spec with { ShowValues = true }, 300, 200));
        using var withoutText = SKBitmap.Decode(StaticChartRenderer.Png(spec, 300, 200));
        var differing = Enumerable.Range(0, 200).Sum(y => Enumerable.Range(0, 300).Count(x => withText.GetPixel(x, y) != withoutText.GetPixel(x, y)));
        Assert.True(differing > 100, $"{differing} pixels differ");
        Assert.Contains("DejaVu Sans", Charts.Bar(["a"], new[] { 1.0 }, "A title").ToSvg());
    }

    [Fact]
    public void ExportRejectsEmptySizes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Make("bar").ToPng(0, 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => Make("bar").ToSvg(100, -1));
        Assert.Throws<ArgumentException>(() => Charts.GroupedBars(["a", "b"], [new BarSeries("x", [1.0])]));
        Assert.Throws<ArgumentException>(() => Charts.ConfusionMatrix(new int[2, 2], ["yes"], ["yes", "no"]));
    }

    static IEnumerable<SKColor> Pixels(SKBitmap bitmap)
    {
        for (int y = 0; y < bitmap.Height; y += 2)
            for (int x = 0; x < bitmap.Width; x += 2)
                yield return bitmap.GetPixel(x, y);
    }
}
