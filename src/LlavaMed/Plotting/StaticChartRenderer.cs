using System.Globalization;
using ScottPlot;

namespace LlavaMed.Plotting;

/// <summary>Draws a <see cref="ChartSpec"/> with ScottPlot (SkiaSharp, no browser) for static PNG and SVG files: the
/// second renderer of the one chart description that Plotly draws interactively. Layout follows the Plotly chart:
/// categories left to right, heatmap row 0 at the bottom, a legend when there are several series. All text is set in
/// the embedded <see cref="EmbeddedFont"/>.</summary>
internal static class StaticChartRenderer
{
    public static byte[] Png(ChartSpec spec, int width, int height)
    {
        CheckSize(width, height);
        return Build(spec, width).GetImageBytes(width, height, ImageFormat.Png);
    }

    public static string Svg(ChartSpec spec, int width, int height)
    {
        CheckSize(width, height);
        return Build(spec, width).GetSvgXml(width, height);
    }

    static void CheckSize(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
    }

    static Plot Build(ChartSpec spec, int width)
    {
        EmbeddedFont.Register();
        var plot = new Plot();
        switch (spec.Kind)
        {
            case ChartSpec.BarKind:
                AddBars(plot, Require(spec.Labels, "Labels"), [new BarSeriesSpec("", Require(spec.Values, "Values"))], width);
                break;
            case ChartSpec.GroupedBarKind:
                AddBars(plot, Require(spec.Labels, "Labels"), Require(spec.Bars, "Bars"), width);
                break;
            case ChartSpec.LinesKind:
                var series = Require(spec.Series, "Series");
                for (int i = 0; i < series.Length; i++)
                {
                    var line = plot.Add.ScatterLine(series[i].X, series[i].Y, Palette(i));
                    line.LegendText = series[i].Name;
                }
                if (series.Length > 1) plot.ShowLegend(Alignment.UpperRight);
                break;
            case ChartSpec.HeatmapKind:
                AddHeatmap(plot, spec);
                break;
            default:
                throw new ArgumentException($"unknown chart kind '{spec.Kind}'");
        }
        if (spec.Title is not null) plot.Title(spec.Title);
        if (spec.XTitle is not null) plot.XLabel(spec.XTitle);
        if (spec.YTitle is not null) plot.YLabel(spec.YTitle);
        // Every label, tick, legend entry and cell text added above.
        plot.Font.Set(EmbeddedFont.FamilyName);
        plot.Legend.FontName = EmbeddedFont.FamilyName;
        plot.Legend.SetBestFontOnEachRender = false;
        return plot;
    }

    /// <summary>Per category (at x = 0, 1, ...) one bar of each series, side by side within the category's slot.</summary>
    static void AddBars(Plot plot, string[] categories, BarSeriesSpec[] series, int width)
    {
        const double slot = 0.8;
        double barWidth = slot / series.Length;
        var bars = new List<Bar>();
        for (int s = 0; s < series.Length; s++)
        {
            var color = Palette(s);
            for (int c = 0; c < categories.Length; c++)
                bars.Add(new Bar
                {
                    Position = c - slot / 2 + barWidth * (s + 0.5), Value = series[s].Values[c], Size = barWidth,
                    FillColor = color, LineWidth = 0,
                });
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, categories.Length).Select(i => (double)i).ToArray(), categories);
        // Labels that would overlap (about 7 px a character at the default size) are slanted, as Plotly does.
        var slotPixels = 0.8 * width / Math.Max(1, categories.Length);
        if (categories.Any(c => c.Length * 7 > slotPixels))
        {
            plot.Axes.Bottom.TickLabelStyle.Rotation = -30;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
            // Room for the slanted labels (sin 30 = 0.5) above the axis title.
            plot.Axes.Bottom.MinimumSize = (float)(categories.Max(c => c.Length) * 7 * 0.5 + 40);
        }
        plot.Axes.Margins(bottom: 0);
        if (series.Length > 1)
        {
            for (int s = 0; s < series.Length; s++)
                plot.Legend.ManualItems.Add(new LegendItem { LabelText = series[s].Name, FillColor = Palette(s) });
            // Beside the plot, where it hides no bar.
            plot.ShowLegend(Edge.Right);
        }
    }

    /// <summary>Cells centred on integer coordinates, row 0 at the bottom; labels as ticks; values written on the
    /// cells when asked.</summary>
    static void AddHeatmap(Plot plot, ChartSpec spec)
    {
        var z = Require(spec.Z, "Z");
        int rows = z.Length, columns = rows == 0 ? 0 : z[0].Length;
        var cells = new double[rows, columns];
        // ScottPlot draws its first row at the top; Plotly's row 0 is at the bottom.
        for (int row = 0; row < rows; row++)
            for (int column = 0; column < columns; column++)
                cells[rows - 1 - row, column] = z[row][column];
        var heatmap = plot.Add.Heatmap(cells);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.Extent = new CoordinateRect(-0.5, columns - 0.5, -0.5, rows - 0.5);
        plot.Add.ColorBar(heatmap);
        if (spec.XLabels is not null)
            plot.Axes.Bottom.SetTicks(Enumerable.Range(0, columns).Select(i => (double)i).ToArray(), spec.XLabels);
        if (spec.YLabels is not null)
            plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(i => (double)i).ToArray(), spec.YLabels);
        if (spec.ShowValues)
        {
            double low = z.SelectMany(r => r).DefaultIfEmpty(0).Min(), high = z.SelectMany(r => r).DefaultIfEmpty(0).Max();
            for (int row = 0; row < rows; row++)
                for (int column = 0; column < columns; column++)
                {
                    var value = z[row][column];
                    var text = plot.Add.Text(value.ToString("G4", CultureInfo.InvariantCulture), column, row);
                    text.LabelAlignment = Alignment.MiddleCenter;
                    text.LabelFontSize = 16;
                    // Viridis is dark at the low end and bright at the high end.
                    text.LabelFontColor = high > low && (value - low) / (high - low) > 0.6 ? Colors.Black : Colors.White;
                }
        }
        plot.Axes.SetLimits(-0.5, columns - 0.5, -0.5, rows - 0.5);
    }

    static Color Palette(int index) => new ScottPlot.Palettes.Category10().GetColor(index);

    static T Require<T>(T? value, string name) where T : class =>
        value ?? throw new ArgumentException($"chart description lacks {name}");
}
