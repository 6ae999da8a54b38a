using System.Text;

namespace LlavaMed.Workbench;

/// <summary>Writes a file so that readers see the old content or the complete new one, never a partial file (an
/// interrupted multi-GB save must not leave a truncated checkpoint behind under the real name): a temporary file in
/// the same folder, flushed to disk, then renamed over the target.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<FileStream> writeContent)
    {
        var fullPath = Path.GetFullPath(path);
        var temporaryPath = Path.Combine(Path.GetDirectoryName(fullPath)!,
            $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporaryPath, FileMode.CreateNew, FileAccess.Write, FileShare.None,
                       bufferSize: 1 << 20))
            {
                writeContent(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporaryPath, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporaryPath);
            throw;
        }
    }

    /// <summary><paramref name="text"/> as UTF-8 without a byte-order mark (what <see cref="File.WriteAllText(string, string)"/> writes).</summary>
    public static void WriteText(string path, string text) => Write(path, stream => stream.Write(Utf8.GetBytes(text)));

    static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
}
