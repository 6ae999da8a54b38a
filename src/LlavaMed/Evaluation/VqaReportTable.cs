using System.Globalization;
using System.Text.Json.Nodes;
using LlavaMed.Views;

namespace LlavaMed.Evaluation;

/// <summary>One metric of one set for several systems (null where a system's report lacks it or it is undefined).</summary>
public sealed record MetricRow(string MetricSet, string Metric, IReadOnlyList<double?> Values)
{
    /// <summary>Question counts (<c>n_*</c>) rather than fractions.</summary>
    public bool IsCount => Metric.StartsWith("n_", StringComparison.Ordinal);
}

/// <summary>Reports of several systems side by side: every metric of every set (llava-med-v1, strict) as a row.</summary>
public static class VqaReportTable
{
    /// <summary>The rows, in the order of the reports' JSON (<see cref="VqaReport.ToJson"/>), metrics of any report
    /// included.</summary>
    public static IReadOnlyList<MetricRow> Rows(IReadOnlyList<VqaReport> reports)
    {
        var json = reports.Select(r => r.ToJson()).ToList();
        var keys = new List<(string Set, string Metric)>();
        foreach (var report in json)
            foreach (var (set, metrics) in report)
                foreach (var (metric, _) in metrics!.AsObject())
                    if (!keys.Contains((set, metric))) keys.Add((set, metric));
        return keys.Select(key => new MetricRow(key.Set, key.Metric,
            json.Select(report => report[key.Set]?[key.Metric] is JsonValue value ? Number(value) : (double?)null).ToList())).ToList();
    }

    // Counts are stored as int, scores as double.
    static double Number(JsonValue value) => double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture);

    /// <summary>A table with a column per system: counts as integers, fractions in percent with one decimal,
    /// undefined values as "-".</summary>
    public static HtmlView Html(IReadOnlyList<string> systems, IReadOnlyList<VqaReport> reports)
    {
        if (systems.Count != reports.Count) throw new ArgumentException($"{systems.Count} names for {reports.Count} reports", nameof(systems));
        return HtmlView.Table(["metric set", "metric", .. systems],
            Rows(reports).Select(row => (IReadOnlyList<string>)[row.MetricSet, row.Metric,
                .. row.Values.Select(v => row.IsCount ? v?.ToString("0", CultureInfo.InvariantCulture) ?? "-" : Percent(v))]));
    }

    /// <summary>A fraction in percent with one decimal; "-" for null.</summary>
    public static string Percent(double? fraction) =>
        fraction is { } value ? (100 * value).ToString("0.0", CultureInfo.InvariantCulture) : "-";
}
