namespace LlavaMed.Data;

/// <summary>One record as a source file yields it, before parsing: where it is, and either its raw value or the
/// reason it could not be read (e.g. a JSONL line that is not JSON).</summary>
public readonly record struct SourceRecord<TRaw>(string Location, TRaw? Value, string? Problem = null);

/// <summary>The parsed records of one file, read lazily (one pass streams the file; nothing is held but the current
/// record). Each enumeration starts a fresh <see cref="Report"/>; under <see cref="BadRecordPolicy.Fail"/> the first
/// malformed record throws a <see cref="DataFormatException"/> naming the file and its line or index.</summary>
public sealed class RecordStream<T> : IEnumerable<T> where T : class
{
    readonly Func<ReadReport, IEnumerable<T>> enumerate;

    RecordStream(string path, string? exclusionReason, Func<ReadReport, IEnumerable<T>> enumerate)
    {
        Report = new ReadReport(path, exclusionReason);
        this.enumerate = enumerate;
    }

    public string Path => Report.Path;
    public ReadReport Report { get; private set; }

    /// <param name="parse">Turns a raw value into a record; returns null for a record the reader's documented filter
    /// excludes (counted in <see cref="ReadReport.Excluded"/>); throws <see cref="DataFormatException"/> for a
    /// malformed one.</param>
    public static RecordStream<T> Create<TRaw>(string path, BadRecordPolicy policy, Func<IEnumerable<SourceRecord<TRaw>>> source,
                                               Func<TRaw, string, T?> parse, string? exclusionReason = null)
    {
        IEnumerable<T> Enumerate(ReadReport report)
        {
            foreach (var record in source())
            {
                T? item = null;
                BadRecord? bad = null;
                if (record.Problem is not null || record.Value is null)
                    bad = new BadRecord(path, record.Location, record.Problem ?? "empty record");
                else
                    try
                    {
                        item = parse(record.Value, record.Location);
                    }
                    catch (DataFormatException e)
                    {
                        bad = new BadRecord(e.Path, e.Location, e.Problem);
                    }
                if (bad is not null)
                {
                    if (policy == BadRecordPolicy.Fail) throw new DataFormatException(bad.Path, bad.Location, bad.Problem);
                    report.CountSkipped(bad);
                }
                else if (item is null) report.CountExcluded();
                else
                {
                    report.CountAccepted();
                    yield return item;
                }
            }
        }
        return new RecordStream<T>(path, exclusionReason, Enumerate);
    }

    public IEnumerator<T> GetEnumerator()
    {
        Report = new ReadReport(Report.Path, Report.ExclusionReason);
        return enumerate(Report).GetEnumerator();
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Reads the whole file; the report is complete when this returns.</summary>
    public (IReadOnlyList<T> Records, ReadReport Report) ReadAll()
    {
        var records = this.ToList();
        return (records, Report);
    }
}
