namespace LlavaMed.Workbench;

/// <summary>An <see cref="IProgress{T}"/> that calls back at once on the reporting thread, in order (the framework's
/// <see cref="Progress{T}"/> posts each record to the thread pool, so records can arrive late and out of order).
/// For notebooks and runners that relay a library's progress records.</summary>
public sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
