namespace LlavaMed.Tests.Data;

/// <summary>A scratch folder per test class, deleted afterwards; <see cref="Write"/> puts a file in it.</summary>
public abstract class TemporaryFolder : IDisposable
{
    protected readonly string Folder = Directory.CreateTempSubdirectory("llava-formats-").FullName;

    public void Dispose()
    {
        Directory.Delete(Folder, recursive: true);
        GC.SuppressFinalize(this);
    }

    protected string Write(string relative, string text)
    {
        var path = Path.Combine(Folder, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    protected string Write(string relative, byte[] bytes)
    {
        var path = Path.Combine(Folder, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
