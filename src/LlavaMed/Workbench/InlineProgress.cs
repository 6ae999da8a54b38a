namespace LlavaMed.Workbench;

/// <summary>The workbench's one <see cref="IProgress{T}"/>: calls back at once on the reporting thread, one report at
/// a time (the framework's <see cref="Progress{T}"/> posts each record to the thread pool, so records can arrive late
/// and out of order). For the CLI, notebooks and runners that relay a library's progress records.</summary>
public sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    readonly Lock gate = new();

    public void Report(T value)
    {
        lock (gate) report(value);
    }
}
