using LlavaMed.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Inference;

/// <summary>Decoding settings. Temperature 0 is greedy (LLaVA-Med v1.5's evaluation setting).</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 512;
    public double Temperature { get; init; }
    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches TopP (1 = off).</summary>
    public double TopP { get; init; } = 1.0;
    public long Seed { get; init; }
    /// <summary>Extra end-of-sequence ids besides the model's eos_token_id.</summary>
    public IReadOnlyList<long> StopTokenIds { get; init; } = [];
    /// <summary>Generation of a row stops when its decoded text contains one of these (empty strings are ignored,
    /// unlike LLaVA-Med's CLI whose empty stop string ends every answer after one token).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Reuse keys and values of earlier positions. Off recomputes the whole sequence every step.</summary>
    public bool UseCache { get; init; } = true;
    /// <summary>Keep each step's next-token logits (float32) in the steps, for inspection and parity checks.</summary>
    public bool KeepStepLogits { get; init; }
}

public enum FinishReason { EndOfSequence, StopString, MaxNewTokens }

/// <summary>One decoding step: for each row, its new token, or null when the row had already finished.</summary>
public sealed record GenerationStep(int Index, IReadOnlyList<long?> Tokens, IReadOnlyList<float[]>? Logits);

/// <summary>A finished row: the generated ids (without the stopping EOS), the decoded text cut before any stop
/// string (when a decoder was given), and why it ended.</summary>
public sealed record GeneratedSequence(long[] Tokens, string? Text, FinishReason Reason);

/// <summary>Autoregressive decoding for a batch of prompts (left-padded, so every row's last prompt position is
/// real; positions count from each row's first real token, so a batch gives the same tokens as one-by-one).</summary>
public sealed class ResponseGenerator(LlavaForCausalLM model, Func<IReadOnlyList<long>, string>? decode = null)
{
    /// <summary>Streams the steps of decoding; <paramref name="results"/> is filled when the stream ends.</summary>
    public IEnumerable<GenerationStep> Stream(IReadOnlyList<long[]> prompts, Tensor? pixelValues, GenerationOptions options,
                                              List<GeneratedSequence> results)
    {
        int batch = prompts.Count;
        var generated = Enumerable.Range(0, batch).Select(_ => new List<long>()).ToArray();
        var reasons = new FinishReason?[batch];
        var texts = new string?[batch];
        var stopIds = options.StopTokenIds.Append(model.Config.EosTokenId).ToHashSet();
        var stopStrings = options.StopStrings.Where(s => s.Length > 0).ToArray();
        // On the model's device: libtorch samples with a generator of the probabilities' device.
        using var random = new TorchSharp.torch.Generator((ulong)options.Seed, model.Device);
        using var cache = options.UseCache ? new KeyValueCache(model.Config.NumHiddenLayers) : null;
        Tensor? attentionMask = null, lastPositions = null;
        try
        {
            for (int step = 0; step < options.MaxNewTokens && reasons.Any(r => r is null); step++)
            {
                using var scope = NewDisposeScope();
                Tensor nextLogits;
                using (no_grad())
                {
                    if (cache is null || step == 0)
                    {
                        var rows = prompts.Select((p, i) => p.Concat(generated[i]).ToArray()).ToList();
                        using var inputs = model.PrepareInputs(rows, pixelValues, side: PaddingSide.Left);
                        var output = model.Forward(inputs, cache);
                        nextLogits = output.Logits[.., -1];
                        Replace(ref attentionMask, inputs.AttentionMask.clone());
                        Replace(ref lastPositions, inputs.PositionIds[.., ^1..].clone());
                    }
                    else
                    {
                        // Finished rows are fed their last token again so the batch stays rectangular; their outputs
                        // are ignored.
                        var lastTokens = tensor(generated.Select(g => g[^1]).ToArray(), [batch, 1], device: model.Device);
                        Replace(ref attentionMask, cat([attentionMask!, ones_like(lastPositions!)], 1));
                        Replace(ref lastPositions, lastPositions!.Plus(TensorArithmetic.One));
                        var output = model.Forward(model.EmbedTokens(lastTokens), attentionMask, lastPositions!, cache: cache);
                        nextLogits = output.Logits[.., -1];
                    }
                }
                var logits32 = nextLogits.to(float32);
                var chosen = Choose(logits32, options, random);
                var stepTokens = new long?[batch];
                for (int row = 0; row < batch; row++)
                {
                    if (reasons[row] is not null) continue;
                    var token = chosen[row];
                    stepTokens[row] = token;
                    generated[row].Add(token);
                    if (stopIds.Contains(token)) reasons[row] = FinishReason.EndOfSequence;
                    else if (decode is not null && stopStrings.Length > 0)
                    {
                        var text = decode(generated[row]);
                        var cut = stopStrings.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0)
                            .DefaultIfEmpty(-1).Min();
                        if (cut >= 0) { reasons[row] = FinishReason.StopString; texts[row] = text[..cut]; }
                    }
                }
                var keptLogits = options.KeepStepLogits
                    ? Enumerable.Range(0, batch).Select(r => logits32[r].data<float>().ToArray()).ToArray()
                    : null;
                yield return new GenerationStep(step, stepTokens, keptLogits);
            }
        }
        finally
        {
            attentionMask?.Dispose();
            lastPositions?.Dispose();
        }
        results.Clear();
        for (int row = 0; row < batch; row++)
        {
            var reason = reasons[row] ?? FinishReason.MaxNewTokens;
            var tokens = generated[row].ToList();
            if (reason == FinishReason.EndOfSequence) tokens.RemoveAt(tokens.Count - 1);
            var text = texts[row] ?? decode?.Invoke(tokens);
            results.Add(new GeneratedSequence(tokens.ToArray(), text, reason));
        }
    }

    /// <summary>Runs decoding to the end.</summary>
    public IReadOnlyList<GeneratedSequence> Generate(IReadOnlyList<long[]> prompts, Tensor? pixelValues, GenerationOptions options)
    {
        var results = new List<GeneratedSequence>();
        foreach (var _ in Stream(prompts, pixelValues, options, results)) { }
        return results;
    }

    static void Replace(ref Tensor? slot, Tensor value)
    {
        var old = slot;
        slot = value.DetachFromDisposeScope();
        old?.Dispose();
    }

    /// <summary>Greedy argmax, or temperature-scaled sampling restricted to the top-p nucleus.</summary>
    static long[] Choose(Tensor logits, GenerationOptions options, TorchSharp.torch.Generator random)
    {
        using var scope = NewDisposeScope();
        if (options.Temperature <= 0) return logits.argmax(-1).data<long>().ToArray();
        using var temperature = options.Temperature.ToScalar(); // explicit Scalars: see TensorArithmetic
        var probabilities = logits.div(temperature).softmax(-1);
        if (options.TopP < 1.0)
        {
            var (sorted, order) = probabilities.sort(-1, descending: true);
            // Drop a token when the tokens ranked above it already reach TopP; the top token always stays.
            var before = sorted.cumsum(-1) - sorted;
            using var topP = options.TopP.ToScalar();
            using var zero = 0.0.ToScalar();
            var keptSorted = sorted.masked_fill(before.ge(topP), zero);
            probabilities = zeros_like(probabilities).scatter(-1, order, keptSorted);
        }
        return multinomial(probabilities, 1, generator: random).squeeze(-1).data<long>().ToArray();
    }
}
