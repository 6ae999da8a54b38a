using System.Text.Json;
using LlavaMed.Models;

namespace LlavaMed.Checkpoints;

/// <summary>Reads v1.0's image-token ids from the tokenizer's <c>added_tokens.json</c> beside the checkpoint (v1.0
/// stored them on the vision tower's config at load time, taken from the tokenizer).</summary>
public static class AddedTokens
{
    public static ImagePatchTokenIds? ReadImagePatchTokens(string modelFolder)
    {
        var path = Path.Combine(modelFolder, "added_tokens.json");
        if (!File.Exists(path)) return null;
        var tokens = JsonSerializer.Deserialize<Dictionary<string, long>>(File.ReadAllText(path))
                     ?? throw new CheckpointFormatException(path, "not a JSON object of token ids");
        return tokens.TryGetValue("<im_patch>", out var patch) && tokens.TryGetValue("<im_start>", out var start)
                                                              && tokens.TryGetValue("<im_end>", out var end)
            ? new ImagePatchTokenIds(patch, start, end)
            : null;
    }
}
