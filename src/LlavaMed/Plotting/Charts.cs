using System.Numerics;

namespace LlavaMed.Plotting;

/// <summary>One curve of a line chart. Without <paramref name="X"/> the points are placed at 0, 1, 2, ...</summary>
public sealed record LineSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y)
{
    public LineSeries(string name, IReadOnlyList<double> y) : this(name, Enumerable.Range(0, y.Count).Select(i => (double)i).ToArray(), y)
    {
    }
}

/// <summary>Plotly charts for notebooks and reports (rendered by Plotly.NET in an isolated load context).</summary>
public static class Charts
{
    /// <summary>A column per label, e.g. the top next-token probabilities.</summary>
    public static Chart Bar<T>(IEnumerable<string> labels, IEnumerable<T> values, string? title = null,
                               string? xTitle = null, string? yTitle = null) where T : INumberBase<T>
    {
        var labelArray = labels.ToArray();
        var valueArray = values.Select(double.CreateChecked).ToArray();
        if (labelArray.Length != valueArray.Length)
            throw new ArgumentException($"{labelArray.Length} labels for {valueArray.Length} values", nameof(labels));
        return Render(new ChartSpec
        {
            Kind = ChartSpec.BarKind, Title = title, XTitle = xTitle, YTitle = yTitle,
            Labels = labelArray, Values = valueArray,
        });
    }

    /// <summary>One line per series on shared axes, e.g. training and validation loss against the step.</summary>
    public static Chart Lines(IEnumerable<LineSeries> series, string? title = null, string? xTitle = null,
                              string? yTitle = null)
    {
        var specs = series.Select(line => line.X.Count == line.Y.Count
            ? new LineSpec(line.Name, line.X.ToArray(), line.Y.ToArray())
            : throw new ArgumentException($"series '{line.Name}' has {line.X.Count} x and {line.Y.Count} y values",
                                          nameof(series))).ToArray();
        return Render(new ChartSpec
        {
            Kind = ChartSpec.LinesKind, Title = title, XTitle = xTitle, YTitle = yTitle, Series = specs,
        });
    }

    /// <summary>A colour per cell of a rows-by-columns grid, e.g. attention weights; row 0 is drawn at the bottom
    /// (Plotly's convention). Labels, when given, name the columns (x) and rows (y).</summary>
    public static Chart Heatmap<T>(T[,] values, IReadOnlyList<string>? xLabels = null,
                                   IReadOnlyList<string>? yLabels = null, string? title = null) where T : INumberBase<T>
    {
        int rows = values.GetLength(0), columns = values.GetLength(1);
        if (xLabels is not null && xLabels.Count != columns)
            throw new ArgumentException($"{xLabels.Count} x labels for {columns} columns", nameof(xLabels));
        if (yLabels is not null && yLabels.Count != rows)
            throw new ArgumentException($"{yLabels.Count} y labels for {rows} rows", nameof(yLabels));
        var z = Enumerable.Range(0, rows)
            .Select(row => Enumerable.Range(0, columns).Select(column => double.CreateChecked(values[row, column])).ToArray())
            .ToArray();
        // The renderer labels both axes or neither; fill in indices for the one left out.
        var bothLabelled = xLabels is not null || yLabels is not null;
        return Render(new ChartSpec
        {
            Kind = ChartSpec.HeatmapKind, Title = title, Z = z,
            XLabels = bothLabelled ? (xLabels ?? Indices(columns)).ToArray() : null,
            YLabels = bothLabelled ? (yLabels ?? Indices(rows)).ToArray() : null,
        });
    }

    /// <summary>Writes one HTML page with all <paramref name="charts"/>, embedding plotly.js once.</summary>
    public static void SavePage(string path, string title, IEnumerable<Chart> charts)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        File.WriteAllText(path, Chart.Page(title, charts));
    }

    private static string[] Indices(int count) => Enumerable.Range(0, count).Select(i => i.ToString()).ToArray();

    private static Chart Render(ChartSpec spec) => new(spec.Title, PlottingRenderer.RenderFigure(spec));
}
