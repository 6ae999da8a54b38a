using System.Numerics;

namespace LlavaMed.Plotting;

/// <summary>One curve of a line chart. Without <paramref name="X"/> the points are placed at 0, 1, 2, ...</summary>
public sealed record LineSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y)
{
    public LineSeries(string name, IReadOnlyList<double> y) : this(name, Enumerable.Range(0, y.Count).Select(i => (double)i).ToArray(), y)
    {
    }
}

/// <summary>One colour of a grouped bar chart: a value per category, e.g. a model's accuracy per organ.</summary>
public sealed record BarSeries(string Name, IReadOnlyList<double> Values);

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

    /// <summary>Side-by-side bars: per category one bar of each series, e.g. accuracy per question type for a model
    /// and its baselines.</summary>
    public static Chart GroupedBars(IEnumerable<string> categories, IEnumerable<BarSeries> series, string? title = null,
                                    string? xTitle = null, string? yTitle = null)
    {
        var labels = categories.ToArray();
        var bars = series.Select(s => s.Values.Count == labels.Length
            ? new BarSeriesSpec(s.Name, s.Values.ToArray())
            : throw new ArgumentException($"series '{s.Name}' has {s.Values.Count} values for {labels.Length} categories",
                                          nameof(series))).ToArray();
        if (bars.Length == 0) throw new ArgumentException("no series", nameof(series));
        return Render(new ChartSpec
        {
            Kind = ChartSpec.GroupedBarKind, Title = title, XTitle = xTitle, YTitle = yTitle, Labels = labels, Bars = bars,
        });
    }

    /// <summary>A confusion matrix: <paramref name="counts"/>[truth, predicted] as a heatmap with the counts written
    /// on the cells, the first truth row at the top (the usual layout, unlike <see cref="Heatmap{T}"/>).</summary>
    public static Chart ConfusionMatrix(int[,] counts, IReadOnlyList<string> truthLabels, IReadOnlyList<string> predictedLabels,
                                        string? title = null, string xTitle = "predicted", string yTitle = "truth")
    {
        int rows = counts.GetLength(0), columns = counts.GetLength(1);
        if (truthLabels.Count != rows) throw new ArgumentException($"{truthLabels.Count} truth labels for {rows} rows", nameof(truthLabels));
        if (predictedLabels.Count != columns)
            throw new ArgumentException($"{predictedLabels.Count} predicted labels for {columns} columns", nameof(predictedLabels));
        // Heatmaps draw row 0 at the bottom, so the rows go in reversed.
        var z = Enumerable.Range(0, rows).Reverse()
            .Select(row => Enumerable.Range(0, columns).Select(column => (double)counts[row, column]).ToArray()).ToArray();
        return Render(new ChartSpec
        {
            Kind = ChartSpec.HeatmapKind, Title = title, XTitle = xTitle, YTitle = yTitle, Z = z, ShowValues = true,
            XLabels = predictedLabels.ToArray(), YLabels = truthLabels.Reverse().ToArray(),
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
        File.WriteAllText(PrepareFolder(path), Chart.Page(title, charts));
    }

    /// <summary>Creates the folder <paramref name="path"/> is to be written in; returns the path.</summary>
    internal static string PrepareFolder(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        return path;
    }

    private static string[] Indices(int count) => Enumerable.Range(0, count).Select(i => i.ToString()).ToArray();

    private static Chart Render(ChartSpec spec) => new(spec, PlottingRenderer.RenderFigure(spec));
}
