namespace LlavaMed.Data;

/// <summary>A record in a data file is malformed. Names the file and the line (JSONL) or index (JSON array). It is an
/// <see cref="IOException"/> (reading the file failed) so that callers which report bad input files treat it as one.</summary>
public sealed class DataFormatException(string path, string location, string problem)
    : IOException($"{path}:{location}: {problem}")
{
    public string Path { get; } = path;
    public string Location { get; } = location;
    public string Problem { get; } = problem;
}
