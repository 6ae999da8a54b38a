using LlavaMed.Text;

namespace LlavaMed.Data.Batching;

/// <summary>One sample ready for batching: its ids and labels (with -200 where the image goes) and its image file.</summary>
public sealed record TokenizedSample(string Id, long[] InputIds, long[] Labels, string? ImagePath)
{
    /// <summary>LLaVA's <c>modality_lengths</c>: the word count of all turns, negative for text-only samples.</summary>
    public int ModalityLength { get; init; }
}

/// <summary>What tokenization did to a dataset: nothing is dropped silently.</summary>
public sealed record TokenizationReport(int Samples, int Truncated, IReadOnlyList<string> MismatchedIds);

/// <summary>A dataset tokenized once with a conversation template (LLaVA's label masks), images resolved under an
/// image root.</summary>
public sealed class TokenizedDataset
{
    public IReadOnlyList<TokenizedSample> Samples { get; }
    public TokenizationReport Report { get; }

    TokenizedDataset(IReadOnlyList<TokenizedSample> samples, TokenizationReport report)
    {
        Samples = samples;
        Report = report;
    }

    /// <summary>Tokenizes every sample: <c>&lt;image&gt;</c> moved to the front of its turn as LLaVA's
    /// <c>preprocess_multimodal</c> does, then the template's labels. Samples whose labels LLaVA would blank
    /// (tokenization mismatch) are kept, all-ignored, and listed in the report.</summary>
    public static TokenizedDataset Create(IEnumerable<LlavaSample> samples, ConversationTemplate template,
                                          LlavaTokenizer tokenizer, int maxLength, string? imageRoot)
    {
        var tokenized = new List<TokenizedSample>();
        var mismatched = new List<string>();
        int truncated = 0;
        foreach (var sample in samples)
        {
            var turns = sample.Image is null ? sample.Conversations : MultimodalPreprocessing.MoveImageToFront(sample.Conversations);
            var example = template.Build(turns, tokenizer, maxLength, hasImage: sample.Image is not null);
            if (example.IsMismatch) mismatched.Add(sample.Id);
            if (example.Truncated) truncated++;
            int words = sample.Conversations.Sum(t => t.Value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length);
            var imagePath = sample.Image is null ? null : ImagePaths.Resolve(imageRoot ?? Directory.GetCurrentDirectory(), sample.Image);
            tokenized.Add(new TokenizedSample(sample.Id, example.InputIds.ToArray(), example.Labels.ToArray(), imagePath)
            {
                ModalityLength = imagePath is null ? -Math.Max(words, 1) : Math.Max(words, 1),
            });
        }
        return new TokenizedDataset(tokenized, new TokenizationReport(tokenized.Count, truncated, mismatched));
    }
}
