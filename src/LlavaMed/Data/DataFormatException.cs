namespace LlavaMed.Data;

/// <summary>A record in a data file is malformed. Names the file and the line (JSONL) or index (JSON array).</summary>
public sealed class DataFormatException(string path, string location, string problem)
    : Exception($"{path}:{location}: {problem}")
{
    public string Path { get; } = path;
    public string Location { get; } = location;
    public string Problem { get; } = problem;
}
