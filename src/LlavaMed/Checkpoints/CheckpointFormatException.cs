namespace LlavaMed.Checkpoints;

/// <summary>A checkpoint file (a .safetensors file or a shard index) is malformed. The message names the file and
/// the problem, so a corrupt or truncated download is diagnosed without a debugger.</summary>
public sealed class CheckpointFormatException : Exception
{
    public CheckpointFormatException(string filePath, string problem, Exception? innerException = null)
        : base($"Invalid checkpoint file '{filePath}': {problem}", innerException)
    {
        FilePath = filePath;
        Problem = problem;
    }

    public string FilePath { get; }

    /// <summary>The problem alone, without the file path.</summary>
    public string Problem { get; }
}
