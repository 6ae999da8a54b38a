namespace LlavaMed.Plotting;

/// <summary>The description of one chart that crosses from LlavaMed into the isolated renderer as JSON.
/// This file is compiled into both assemblies (LlavaMed and LlavaMed.Plotting), so the contract has one definition;
/// only strings cross the AssemblyLoadContext boundary.</summary>
internal sealed record ChartSpec
{
    public const string BarKind = "bar";
    public const string LinesKind = "lines";
    public const string HeatmapKind = "heatmap";
    public const string GroupedBarKind = "grouped-bar";

    public required string Kind { get; init; }
    public string? Title { get; init; }
    public string? XTitle { get; init; }
    public string? YTitle { get; init; }

    /// <summary>Bar: one category label per value. Grouped bars: the categories.</summary>
    public string[]? Labels { get; init; }
    public double[]? Values { get; init; }

    /// <summary>Grouped bars: one entry per bar colour, each with a value per category of <see cref="Labels"/>.</summary>
    public BarSeriesSpec[]? Bars { get; init; }

    /// <summary>Lines: one entry per curve.</summary>
    public LineSpec[]? Series { get; init; }

    /// <summary>Heatmap: rows of cells (row i is drawn at <see cref="YLabels"/>[i]).</summary>
    public double[][]? Z { get; init; }
    public string[]? XLabels { get; init; }
    public string[]? YLabels { get; init; }
    /// <summary>Heatmap: writes each cell's value on it (confusion matrices).</summary>
    public bool ShowValues { get; init; }
}

internal sealed record LineSpec(string Name, double[] X, double[] Y);

internal sealed record BarSeriesSpec(string Name, double[] Values);
