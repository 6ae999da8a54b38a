using LlavaMed.Text;
using Microsoft.Data.Analysis;

namespace LlavaMed.Data.Exploration;

/// <summary>The headline numbers of a question-answer table: records, distinct images, answer types, mean lengths in
/// words and (when an image root was given) how many records name a missing or rejected image.</summary>
public sealed record DatasetSummary(string Name, int Records, int Images, int Open, int Closed, int YesNo,
                                    int Untyped, double MeanQuestionWords, double MeanAnswerWords, int? MissingImages);

/// <summary>Summaries of the tables <see cref="DatasetTables"/> builds, each a small <see cref="DataFrame"/> ready to
/// show as a table or chart: counts by a column, cross tabulations, length statistics, question types, the answer
/// vocabulary and missing images. Pure functions of their inputs (only <see cref="MissingImages"/> reads the disk).</summary>
public static class DatasetViews
{
    public const string Count = "count";
    public const string Share = "share";
    public const string Total = "total";
    /// <summary>The group value of the row that summarizes every record.</summary>
    public const string AllGroups = "(all)";

    /// <summary>How many rows have each value of <paramref name="column"/>, most frequent first (ties by value),
    /// with their share of all rows.</summary>
    public static DataFrame CountBy(DataFrame table, string column)
    {
        var counts = Texts(table, column).CountBy(v => v, StringComparer.Ordinal)
            .OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal).ToList();
        var rows = Math.Max(1, table.Rows.Count);
        return new DataFrame(
            new StringDataFrameColumn(column, counts.Select(c => c.Key)),
            new Int32DataFrameColumn(Count, counts.Select(c => c.Value)),
            new DoubleDataFrameColumn(Share, counts.Select(c => (double)c.Value / rows)));
    }

    /// <summary>Counts by <paramref name="rowColumn"/> (rows) and <paramref name="columnColumn"/> (one count column
    /// per value, in order of first appearance) with a total column, e.g. domains by split.</summary>
    public static DataFrame CrossTab(DataFrame table, string rowColumn, string columnColumn)
    {
        var pairs = Texts(table, rowColumn).Zip(Texts(table, columnColumn)).ToList();
        var columnValues = pairs.Select(p => p.Second).Distinct(StringComparer.Ordinal).ToList();
        var rowValues = pairs.Select(p => p.First).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var counts = pairs.CountBy(p => p).ToDictionary(c => c.Key, c => c.Value);
        int CountOf(string row, string column) => counts.GetValueOrDefault((row, column));
        var frame = new DataFrame(new StringDataFrameColumn(rowColumn, rowValues));
        foreach (var value in columnValues)
            frame.Columns.Add(new Int32DataFrameColumn(value, rowValues.Select(row => CountOf(row, value))));
        frame.Columns.Add(new Int32DataFrameColumn(Total, rowValues.Select(row => columnValues.Sum(value => CountOf(row, value)))));
        return frame;
    }

    /// <summary>Count, mean, median, 90th percentile and maximum of a numeric column (e.g. answer_words) per value of
    /// <paramref name="by"/>, then one <see cref="AllGroups"/> row. Percentiles interpolate linearly between ranks
    /// (numpy's default).</summary>
    public static DataFrame LengthStats(DataFrame table, string lengthColumn, string by)
    {
        var lengths = Numbers(table, lengthColumn);
        var groups = Texts(table, by).Zip(lengths).GroupBy(p => p.First, p => p.Second, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Group: g.Key, Values: (IReadOnlyList<double>)g.ToList()))
            .Append((Group: AllGroups, Values: lengths)).ToList();
        return new DataFrame(
            new StringDataFrameColumn(by, groups.Select(g => g.Group)),
            new Int32DataFrameColumn(Count, groups.Select(g => g.Values.Count)),
            new DoubleDataFrameColumn("mean", groups.Select(g => g.Values.Count == 0 ? double.NaN : g.Values.Average())),
            new DoubleDataFrameColumn("median", groups.Select(g => Percentile(g.Values, 0.5))),
            new DoubleDataFrameColumn("p90", groups.Select(g => Percentile(g.Values, 0.9))),
            new DoubleDataFrameColumn("max", groups.Select(g => g.Values.Count == 0 ? double.NaN : g.Values.Max())));
    }

    /// <summary>Rows per bin of width <paramref name="binWidth"/> of a numeric column, from the lowest to the highest
    /// occupied bin (empty bins between them included), labelled "lo-hi".</summary>
    public static DataFrame Histogram(DataFrame table, string column, int binWidth)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(binWidth);
        var bins = Numbers(table, column).Select(v => (int)Math.Floor(v / binWidth)).ToList();
        var counts = bins.CountBy(b => b).ToDictionary(c => c.Key, c => c.Value);
        var range = bins.Count == 0 ? [] : Enumerable.Range(bins.Min(), bins.Max() - bins.Min() + 1).ToList();
        return new DataFrame(
            new StringDataFrameColumn("bin", range.Select(b => binWidth == 1 ? $"{b}" : $"{b * binWidth}-{(b + 1) * binWidth - 1}")),
            new Int32DataFrameColumn(Count, range.Select(b => counts.GetValueOrDefault(b))));
    }

    /// <summary>Question types per value of <paramref name="by"/> (then an <see cref="AllGroups"/> row): open, closed,
    /// the closed ones answered yes or no, the other closed ones (choices such as "left"), and records with no answer
    /// type (alignment and instruction sets).</summary>
    public static DataFrame QuestionTypes(DataFrame table, string by = DatasetColumns.Split)
    {
        var rows = Texts(table, by).Zip(Texts(table, DatasetColumns.AnswerType), Flags(table, DatasetColumns.YesNo))
            .Select(r => (Group: r.First, Type: r.Second, YesNo: r.Third)).ToList();
        var groups = rows.GroupBy(r => r.Group, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Group: g.Key, Rows: g.ToList())).Append((Group: AllGroups, Rows: rows)).ToList();
        Int32DataFrameColumn Column(string name, Func<(string Group, string Type, bool YesNo), bool> predicate) =>
            new(name, groups.Select(g => g.Rows.Count(predicate)));
        return new DataFrame(
            new StringDataFrameColumn(by, groups.Select(g => g.Group)),
            Column("open", r => r.Type == VqaAnswerTypes.Open),
            Column("closed", r => r.Type == VqaAnswerTypes.Closed),
            Column("yes_no", r => r.YesNo),
            Column("closed_other", r => r.Type == VqaAnswerTypes.Closed && !r.YesNo),
            Column("untyped", r => r.Type.Length == 0),
            new Int32DataFrameColumn(Total, groups.Select(g => g.Rows.Count)));
    }

    /// <summary>The <paramref name="top"/> most frequent answers (trimmed, lower-cased) with their count and share,
    /// optionally of one answer type (OPEN or CLOSED) only; ties are broken by the answer text.</summary>
    public static DataFrame TopAnswers(DataFrame table, int top = 20, string? answerType = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(top);
        var answers = Texts(table, DatasetColumns.Answer).Zip(Texts(table, DatasetColumns.AnswerType))
            .Where(p => answerType is null || p.Second == answerType.Trim().ToUpperInvariant())
            .Select(p => NormalizeAnswer(p.First)).ToList();
        var counts = answers.CountBy(a => a, StringComparer.Ordinal)
            .OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal).Take(top).ToList();
        return new DataFrame(
            new StringDataFrameColumn(DatasetColumns.Answer, counts.Select(c => c.Key)),
            new Int32DataFrameColumn(Count, counts.Select(c => c.Value)),
            new DoubleDataFrameColumn(Share, counts.Select(c => (double)c.Value / Math.Max(1, answers.Count))));
    }

    /// <summary>How many distinct answers (trimmed, lower-cased) the table has.</summary>
    public static int AnswerVocabularySize(DataFrame table) =>
        Texts(table, DatasetColumns.Answer).Select(NormalizeAnswer).Distinct(StringComparer.Ordinal).Count();

    public static string NormalizeAnswer(string answer) => answer.Trim().ToLowerInvariant();

    /// <summary>Every row whose image is missing under <paramref name="imageRoot"/> or whose path is rejected
    /// (<see cref="ImageCheck.FindMissing"/>): id, image and the problem. Rows without an image are fine.</summary>
    public static DataFrame MissingImages(DataFrame table, string imageRoot)
    {
        var samples = Texts(table, DatasetColumns.Id).Zip(table.Columns[DatasetColumns.Image].Cast<string?>())
            .Select(r => new LlavaSample(r.First, r.Second, [ConversationTurn.Human("")]));
        var missing = ImageCheck.FindMissing(samples, imageRoot);
        return new DataFrame(
            new StringDataFrameColumn(DatasetColumns.Id, missing.Select(m => m.SampleId)),
            new StringDataFrameColumn(DatasetColumns.Image, missing.Select(m => m.Image)),
            new StringDataFrameColumn("problem", missing.Select(m => m.Problem)));
    }

    /// <summary>The headline numbers of a question-answer table; missing images are counted when
    /// <paramref name="imageRoot"/> is given.</summary>
    public static DatasetSummary Summarize(DataFrame table, string name, string? imageRoot = null)
    {
        var types = Texts(table, DatasetColumns.AnswerType).ToList();
        var questionWords = Numbers(table, DatasetColumns.QuestionWords).ToList();
        var answerWords = Numbers(table, DatasetColumns.AnswerWords).ToList();
        return new DatasetSummary(name, (int)table.Rows.Count,
            table.Columns[DatasetColumns.Image].Cast<string?>().Where(i => i is not null).Distinct(StringComparer.Ordinal).Count(),
            types.Count(t => t == VqaAnswerTypes.Open), types.Count(t => t == VqaAnswerTypes.Closed),
            Flags(table, DatasetColumns.YesNo).Count(f => f), types.Count(t => t.Length == 0),
            questionWords.Count == 0 ? 0 : questionWords.Average(), answerWords.Count == 0 ? 0 : answerWords.Average(),
            imageRoot is null ? null : (int)MissingImages(table, imageRoot).Rows.Count);
    }

    /// <summary>Summaries side by side, one row each (missing_images empty where no image root was given).</summary>
    public static DataFrame SummaryTable(IEnumerable<DatasetSummary> summaries)
    {
        var list = summaries.ToList();
        return new DataFrame(
            new StringDataFrameColumn("name", list.Select(s => s.Name)),
            new Int32DataFrameColumn("records", list.Select(s => s.Records)),
            new Int32DataFrameColumn("images", list.Select(s => s.Images)),
            new Int32DataFrameColumn("open", list.Select(s => s.Open)),
            new Int32DataFrameColumn("closed", list.Select(s => s.Closed)),
            new Int32DataFrameColumn("yes_no", list.Select(s => s.YesNo)),
            new Int32DataFrameColumn("untyped", list.Select(s => s.Untyped)),
            new DoubleDataFrameColumn("mean_question_words", list.Select(s => s.MeanQuestionWords)),
            new DoubleDataFrameColumn("mean_answer_words", list.Select(s => s.MeanAnswerWords)),
            new Int32DataFrameColumn("missing_images", list.Select(s => s.MissingImages)));
    }

    /// <summary>Linear interpolation between closest ranks (numpy's default); NaN for no values.</summary>
    public static double Percentile(IReadOnlyList<double> values, double fraction)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        var position = fraction * (sorted.Length - 1);
        int below = (int)Math.Floor(position), above = (int)Math.Ceiling(position);
        return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
    }

    /// <summary>A column's values as text (null as empty), e.g. the labels of a bar chart.</summary>
    public static IReadOnlyList<string> Texts(DataFrame table, string column) =>
        table.Columns[column].Cast<object?>().Select(value => value?.ToString() ?? "").ToList();

    /// <summary>A numeric column's values as doubles (null as NaN), e.g. the values of a bar chart.</summary>
    public static IReadOnlyList<double> Numbers(DataFrame table, string column) =>
        table.Columns[column].Cast<object?>().Select(value => Convert.ToDouble(value ?? double.NaN, System.Globalization.CultureInfo.InvariantCulture)).ToList();

    static IEnumerable<bool> Flags(DataFrame table, string column) =>
        table.Columns[column].Cast<object?>().Select(value => value is true);
}
