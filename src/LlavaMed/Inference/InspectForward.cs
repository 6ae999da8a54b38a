using LlavaMed.Checkpoints;
using LlavaMed.Models;
using static TorchSharp.torch;

namespace LlavaMed.Inference;

/// <summary>Runs a checkpoint on stored inputs (<c>input_ids</c> [B, T] int64, optional <c>pixel_values</c>) and
/// writes <c>vision_selected_features</c>, <c>projected_image_features</c>, <c>inputs_embeds</c>, <c>logits</c>
/// and, when asked, <c>greedy_tokens</c>: the names of the reference fixtures, for side-by-side comparison.</summary>
public static class InspectForward
{
    public static IReadOnlyList<string> Run(string modelFolder, string inputsPath, string outputPath, int greedyTokens,
                                            LoadOptions? load = null)
    {
        using var scope = NewDisposeScope();
        using var model = CheckpointLoader.Load(modelFolder, load);
        using var inputs = SafetensorsFile.Open(inputsPath);
        if (!inputs.Contains("input_ids"))
            throw new CheckpointFormatException(inputsPath, "no input_ids tensor");
        var ids = inputs.ReadTensor("input_ids", ScalarType.Int64);
        if (ids.dim() != 2) throw new CheckpointFormatException(inputsPath, "input_ids must be [batch, length]");
        var pixels = inputs.Contains("pixel_values") ? inputs.ReadTensor("pixel_values", ScalarType.Float32) : null;
        var rows = Enumerable.Range(0, (int)ids.shape[0]).Select(i => ids[i].data<long>().ToArray()).ToList();
        var results = new Dictionary<string, Tensor>();
        using (no_grad())
        {
            if (pixels is not null)
            {
                results["vision_selected_features"] = model.Model.VisionTower.SelectFeatures(pixels).to(float32);
                results["projected_image_features"] = model.EncodeImages(pixels).to(float32);
            }
            using var prepared = model.PrepareInputs(rows, pixels);
            results["inputs_embeds"] = prepared.InputsEmbeds.to(float32).clone();
            results["logits"] = model.Forward(prepared).Logits.to(float32);
        }
        if (greedyTokens > 0)
        {
            var generated = new ResponseGenerator(model).Generate(rows, pixels,
                new GenerationOptions { MaxNewTokens = greedyTokens, StopTokenIds = [] });
            // EOS ends a row early; pad such rows with -1 so the tensor stays rectangular.
            var width = generated.Max(g => g.Tokens.Length + (g.Reason == FinishReason.EndOfSequence ? 1 : 0));
            var flat = generated.SelectMany(g =>
            {
                var row = g.Reason == FinishReason.EndOfSequence ? g.Tokens.Append(model.Config.EosTokenId) : g.Tokens;
                return row.Concat(Enumerable.Repeat(-1L, width)).Take(width);
            }).ToArray();
            results["greedy_tokens"] = tensor(flat, [rows.Count, width]);
        }
        SafetensorsFile.Save(outputPath, results, new Dictionary<string, string> { ["format"] = "pt" });
        return results.Keys.ToList();
    }
}
