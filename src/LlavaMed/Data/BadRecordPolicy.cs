namespace LlavaMed.Data;

/// <summary>What a reader does with a malformed record: stop with a <see cref="DataFormatException"/> naming it, or
/// skip it and list it in the <see cref="ReadReport"/>. Records are never dropped without a trace.</summary>
public enum BadRecordPolicy
{
    Fail,
    SkipAndReport,
}

/// <summary>One malformed record: its file, where it is in the file (line, index) and what is wrong.</summary>
public sealed record BadRecord(string Path, string Location, string Problem)
{
    public override string ToString() => $"{Path}:{Location}: {Problem}";
}

/// <summary>What one pass over a data file found: records read, accepted, excluded by a documented filter (e.g.
/// SLAKE's non-English questions, with the reason) and the malformed ones that were skipped. Filled while the
/// records are enumerated; complete once the enumeration ends.</summary>
public sealed class ReadReport(string path, string? exclusionReason = null)
{
    readonly List<BadRecord> problems = [];

    public string Path { get; } = path;
    public int Read { get; private set; }
    public int Accepted { get; private set; }
    public int Excluded { get; private set; }
    /// <summary>Why records counted in <see cref="Excluded"/> were left out (null when the reader filters nothing).</summary>
    public string? ExclusionReason { get; } = exclusionReason;
    public IReadOnlyList<BadRecord> Problems => problems;
    public int Skipped => problems.Count;

    internal void CountAccepted() { Read++; Accepted++; }
    internal void CountExcluded() { Read++; Excluded++; }
    internal void CountSkipped(BadRecord problem) { Read++; problems.Add(problem); }

    public override string ToString() =>
        $"{Path}: {Read} read, {Accepted} accepted, {Skipped} skipped as malformed"
        + (Excluded > 0 ? $", {Excluded} excluded ({ExclusionReason})" : "");
}
