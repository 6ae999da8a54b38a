using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using LlavaMed.Workbench;
using static TorchSharp.torch;

namespace LlavaMed.Checkpoints;

/// <summary>
/// The tensors of a Hugging Face checkpoint folder: a single <c>model.safetensors</c>, or shards
/// <c>model-0000k-of-0000N.safetensors</c> listed by <c>model.safetensors.index.json</c>
/// (<c>{"metadata": {"total_size": ...}, "weight_map": {tensor: shard file}}</c>). Every file is opened and validated
/// up front, and every index entry is checked against its shard, so a broken download fails before any weight is
/// read. Tensors a shard holds but the index does not list are not visible, as with transformers.
/// </summary>
public sealed partial class CheckpointTensors : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>transformers' default <c>max_shard_size</c> ("5GB", decimal).</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    private readonly IReadOnlyList<SafetensorsFile> files;
    private readonly Dictionary<string, SafetensorsFile> fileByTensor;

    private CheckpointTensors(string source, IReadOnlyList<SafetensorsFile> files,
        Dictionary<string, SafetensorsFile> fileByTensor)
    {
        Source = source;
        this.files = files;
        this.fileByTensor = fileByTensor;
        Names = fileByTensor.Keys.Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>The index or single file the tensors come from.</summary>
    public string Source { get; }

    /// <summary>All tensor names, in ordinal order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Opens a checkpoint folder (index preferred over a single file, as transformers does), or a
    /// .safetensors file or an index file given directly.</summary>
    public static CheckpointTensors Open(string folderOrFile)
    {
        if (File.Exists(folderOrFile))
            return folderOrFile.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                ? OpenIndex(folderOrFile)
                : OpenSingle(folderOrFile);
        if (!Directory.Exists(folderOrFile))
            throw new DirectoryNotFoundException($"checkpoint folder '{folderOrFile}' does not exist");
        var indexPath = Path.Combine(folderOrFile, IndexFileName);
        if (File.Exists(indexPath)) return OpenIndex(indexPath);
        var singlePath = Path.Combine(folderOrFile, SingleFileName);
        if (File.Exists(singlePath)) return OpenSingle(singlePath);
        throw new FileNotFoundException(
            $"checkpoint folder '{folderOrFile}' has neither {IndexFileName} nor {SingleFileName}", singlePath);
    }

    public bool Contains(string name) => fileByTensor.ContainsKey(name);

    public SafetensorsTensorInfo GetInfo(string name) => FileOf(name).GetInfo(name);

    /// <summary>The file that holds <paramref name="name"/>.</summary>
    public string PathOf(string name) => FileOf(name).Path;

    /// <inheritdoc cref="SafetensorsFile.ReadTensor"/>
    public Tensor ReadTensor(string name, ScalarType? dtype = null, Device? device = null) =>
        FileOf(name).ReadTensor(name, dtype, device);

    /// <inheritdoc cref="SafetensorsFile.ReadInto(string, Tensor, StagingBuffers)"/>
    public void ReadInto(string name, Tensor destination, StagingBuffers staging) =>
        FileOf(name).ReadInto(name, destination, staging);

    public void Dispose()
    {
        foreach (var file in files) file.Dispose();
    }

    private SafetensorsFile FileOf(string name) => fileByTensor.TryGetValue(name, out var file)
        ? file
        : throw new KeyNotFoundException($"tensor '{name}' is not in checkpoint '{Source}'");

    private static CheckpointTensors OpenSingle(string path)
    {
        var file = SafetensorsFile.Open(path);
        return new CheckpointTensors(path, [file], file.Names.ToDictionary(name => name, _ => file));
    }

    private static CheckpointTensors OpenIndex(string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        var folder = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var shards = new Dictionary<string, SafetensorsFile>();
        try
        {
            var fileByTensor = new Dictionary<string, SafetensorsFile>();
            foreach (var (tensorName, shardName) in weightMap)
            {
                if (!shards.TryGetValue(shardName, out var shard))
                {
                    var shardPath = Path.Combine(folder, shardName);
                    if (!File.Exists(shardPath))
                        throw new CheckpointFormatException(indexPath,
                            $"weight_map puts tensor '{tensorName}' in '{shardName}', which does not exist");
                    shard = SafetensorsFile.Open(shardPath);
                    shards.Add(shardName, shard);
                }
                if (!shard.Contains(tensorName))
                    throw new CheckpointFormatException(indexPath,
                        $"weight_map puts tensor '{tensorName}' in '{shardName}', but that shard has no such tensor");
                fileByTensor.Add(tensorName, shard);
            }
            return new CheckpointTensors(indexPath, shards.Values.ToArray(), fileByTensor);
        }
        catch
        {
            foreach (var shard in shards.Values) shard.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(indexPath, $"index is not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var weightMap)
                || weightMap.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(indexPath, "index has no \"weight_map\" object");
            var result = new Dictionary<string, string>();
            foreach (var entry in weightMap.EnumerateObject())
            {
                var shardName = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : "";
                // Shards are plain file names beside the index; anything else could reach outside the folder.
                if (shardName.Length == 0 || shardName != Path.GetFileName(shardName) || shardName is "." or "..")
                    throw new CheckpointFormatException(indexPath,
                        $"weight_map entry for tensor '{entry.Name}' is {entry.Value.GetRawText()}, not a shard file name");
                if (!result.TryAdd(entry.Name, shardName))
                    throw new CheckpointFormatException(indexPath, $"weight_map lists tensor '{entry.Name}' twice");
            }
            return result;
        }
    }

    /// <summary>
    /// Saves a checkpoint the way transformers' <c>save_pretrained</c> does: tensors go to shards in the
    /// dictionary's order, a new shard starting when the next tensor would push the current one past
    /// <paramref name="maxShardBytes"/> (a tensor larger than that gets a shard of its own). One shard is written as
    /// <c>model.safetensors</c> with no index; several as <c>model-00001-of-0000N.safetensors</c> plus
    /// <c>model.safetensors.index.json</c> (<c>json.dumps(indent=2, sort_keys=True)</c> and a newline). Every file
    /// carries the metadata <c>{"format": "pt"}</c>. Weight files of an earlier save that the new one does not
    /// overwrite are deleted, so a stale index or shard cannot shadow the new checkpoint.
    /// </summary>
    public static void Save(string folder, IReadOnlyDictionary<string, Tensor> tensors,
        long maxShardBytes = DefaultMaxShardBytes) =>
        Save(folder, tensors.Select(pair => SafetensorsEntry.Of(pair.Key, pair.Value)).ToArray(), maxShardBytes);

    /// <summary><see cref="Save(string, IReadOnlyDictionary{string, Tensor}, long)"/> for entries whose bytes are
    /// produced while each shard is written, so a checkpoint never has to be in memory as a whole.</summary>
    public static void Save(string folder, IReadOnlyList<SafetensorsEntry> entries,
        long maxShardBytes = DefaultMaxShardBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        var shards = new List<List<SafetensorsEntry>> { new() };
        long currentShardBytes = 0, totalBytes = 0;
        foreach (var entry in entries)
        {
            if (currentShardBytes + entry.ByteLength > maxShardBytes && shards[^1].Count > 0)
            {
                shards.Add([]);
                currentShardBytes = 0;
            }
            shards[^1].Add(entry);
            currentShardBytes += entry.ByteLength;
            totalBytes += entry.ByteLength;
        }

        Directory.CreateDirectory(folder);
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        var shardNames = shards.Count == 1
            ? [SingleFileName]
            : Enumerable.Range(1, shards.Count).Select(k => $"model-{k:D5}-of-{shards.Count:D5}.safetensors").ToArray();
        for (var k = 0; k < shards.Count; k++)
            SafetensorsFile.Save(Path.Combine(folder, shardNames[k]), shards[k], metadata);
        if (shards.Count > 1)
        {
            var weightMap = shards.SelectMany((shard, k) => shard.Select(entry => (entry.Name, Shard: shardNames[k])));
            var index = WriteIndexJson(totalBytes, weightMap);
            AtomicFile.Write(Path.Combine(folder, IndexFileName), stream => stream.Write(Encoding.UTF8.GetBytes(index)));
        }
        DeleteStaleWeightFiles(folder, shards.Count > 1 ? [.. shardNames, IndexFileName] : shardNames);
    }

    private static string WriteIndexJson(long totalBytes, IEnumerable<(string Name, string Shard)> weightMap)
    {
        var json = new StringBuilder();
        json.Append("{\n  \"metadata\": {\n    \"total_size\": ").Append(totalBytes).Append("\n  },\n  \"weight_map\": {");
        var first = true;
        foreach (var (name, shard) in weightMap.OrderBy(entry => entry.Name, JsonText.CodePointOrder))
        {
            json.Append(first ? "\n    " : ",\n    ");
            first = false;
            JsonText.AppendPythonString(json, name);
            json.Append(": ");
            JsonText.AppendPythonString(json, shard);
        }
        json.Append("\n  }\n}\n");
        return json.ToString();
    }

    private static void DeleteStaleWeightFiles(string folder, IReadOnlyCollection<string> keep)
    {
        foreach (var path in Directory.EnumerateFiles(folder))
        {
            var name = Path.GetFileName(path);
            if (WeightFileName().IsMatch(name) && !keep.Contains(name)) File.Delete(path);
        }
    }

    [GeneratedRegex(@"^(model(-\d{5}-of-\d{5})?\.safetensors|model\.safetensors\.index\.json)$")]
    private static partial Regex WeightFileName();
}
