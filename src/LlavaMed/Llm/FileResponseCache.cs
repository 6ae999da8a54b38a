using LlavaMed.Workbench;
using Microsoft.Extensions.Caching.Distributed;

namespace LlavaMed.Llm;

/// <summary>An <see cref="IDistributedCache"/> on disk: one file per key, written atomically (a crash mid-write
/// leaves the old entry or none, never a torn one), so <c>DistributedCachingChatClient</c> can resume an
/// interrupted run without paying for any request it already made. Entries never expire: a cached response is
/// the reproducible record of what the model answered.</summary>
public sealed class FileResponseCache : IDistributedCache
{
    readonly string folder;

    public FileResponseCache(string folder)
    {
        this.folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(this.folder);
    }

    public string Folder => folder;

    /// <summary>Keys are the caching client's hashes (hex); anything else is hashed again so it is a safe file
    /// name. Two-character subfolders keep directories small for 60K-entry runs.</summary>
    string PathOf(string key)
    {
        var name = key.All(char.IsAsciiLetterOrDigit) && key.Length is > 8 and < 200
            ? key.ToLowerInvariant()
            : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));
        return Path.Combine(folder, name[..2], name + ".json");
    }

    public byte[]? Get(string key)
    {
        var path = PathOf(key);
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }

    public Task<byte[]?> GetAsync(string key, CancellationToken token = default) => Task.FromResult(Get(key));

    public void Set(string key, byte[] value, DistributedCacheEntryOptions options)
    {
        var path = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.Write(path, stream => stream.Write(value));
    }

    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        Set(key, value, options);
        return Task.CompletedTask;
    }

    public void Refresh(string key) { }

    public Task RefreshAsync(string key, CancellationToken token = default) => Task.CompletedTask;

    public void Remove(string key) => File.Delete(PathOf(key));

    public Task RemoveAsync(string key, CancellationToken token = default)
    {
        Remove(key);
        return Task.CompletedTask;
    }
}
