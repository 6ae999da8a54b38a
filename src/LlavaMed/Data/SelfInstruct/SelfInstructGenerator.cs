using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Text;
using LlavaMed.Workbench;
using Microsoft.Extensions.AI;

namespace LlavaMed.Data.SelfInstruct;

public enum SelfInstructStatus
{
    /// <summary>At least one question/answer pair survived parsing and cleaning.</summary>
    Kept,
    /// <summary>The model answered, but nothing usable was left after parsing and cleaning.</summary>
    Dropped,
    /// <summary>The request failed (after retries); rerunning asks again.</summary>
    Failed,
}

/// <summary>The outcome for one figure: the LLaVA record when kept, how many pairs were parsed and kept, and every
/// problem met (skipped blocks, dropped pairs with their reason, or the error).</summary>
public sealed record SelfInstructItem(string PairId, SelfInstructStatus Status, LlavaSample? Sample, int PairsParsed,
                                      int PairsKept, IReadOnlyList<string> Problems);

public sealed record SelfInstructProgress(int Done, int Total, int Kept, int Dropped, int Failed);

public sealed record SelfInstructResult(IReadOnlyList<SelfInstructItem> Items)
{
    /// <summary>The kept records in input order: the <c>llava_med_instruct_*</c> file's content.</summary>
    public IReadOnlyList<LlavaSample> Samples => Items.Where(i => i.Sample is not null).Select(i => i.Sample!).ToList();
    public int Kept => Items.Count(i => i.Status == SelfInstructStatus.Kept);
    public int Dropped => Items.Count(i => i.Status == SelfInstructStatus.Dropped);
    public int Failed => Items.Count(i => i.Status == SelfInstructStatus.Failed);
    public int PairsParsed => Items.Sum(i => i.PairsParsed);
    public int PairsKept => Items.Sum(i => i.PairsKept);
}

public sealed record SelfInstructOptions
{
    /// <summary>Show the article's sentences that cite the figure (the paper's 60K-IM variant) or not (60K).</summary>
    public bool InlineMentions { get; init; }

    /// <summary>Requests in flight at once.</summary>
    public int Concurrency { get; init; } = 4;

    /// <summary>Seeds the placement of <c>&lt;image&gt;</c> before or after the first question.</summary>
    public int Seed { get; init; }

    /// <summary>Records name their image <c>{pair_id}{ImageExtension}</c>: ".jpg" for the PMC figures LLaVA-Med
    /// downloads, ".png" for the workbench's synthetic corpus.</summary>
    public string ImageExtension { get; init; } = ".jpg";
}

/// <summary>LLaVA-Med's self-instruct data generation (paper section 3.2; <c>instruct_generate.py</c> then
/// <c>instruct_postprocess.py</c>): for each figure, one request (<see cref="SelfInstructPrompt"/>), its reply parsed
/// into pairs (<see cref="ConversationParser"/>), cleaned (<see cref="CleaningRules"/>), the image marker placed,
/// and a LLaVA conversation record written with the figure's domain flags. The client decides caching and
/// retries (<c>ChatClientFactory</c>), so a rerun after a crash pays only for what was not answered yet.</summary>
public sealed class SelfInstructGenerator(IChatClient client, SelfInstructPrompt prompt, CleaningRules rules,
                                          ChatOptions requestOptions)
{
    public async Task<SelfInstructResult> RunAsync(IReadOnlyList<FigureCaptionRecord> figures, SelfInstructOptions options,
                                                   IProgress<SelfInstructProgress>? progress = null,
                                                   CancellationToken cancellationToken = default)
    {
        var items = new SelfInstructItem[figures.Count];
        int done = 0, kept = 0, dropped = 0, failed = 0;
        var counting = new Lock();
        await Parallel.ForEachAsync(Enumerable.Range(0, figures.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Concurrency), CancellationToken = cancellationToken },
            async (index, token) =>
            {
                var figure = figures[index];
                SelfInstructItem item;
                try
                {
                    var response = await client.GetResponseAsync(prompt.BuildMessages(figure, options.InlineMentions),
                                                                 OptionsFor(figure), token).ConfigureAwait(false);
                    item = Postprocess(figure, response.Text, options.Seed, options.ImageExtension);
                }
                catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
                {
                    item = new SelfInstructItem(figure.PairId, SelfInstructStatus.Failed, null, 0, 0, [e.Message]);
                }
                items[index] = item;
                lock (counting) // counts and reports together, so reports arrive in order
                {
                    if (item.Status == SelfInstructStatus.Kept) kept++;
                    else if (item.Status == SelfInstructStatus.Dropped) dropped++;
                    else failed++;
                    progress?.Report(new SelfInstructProgress(++done, figures.Count, kept, dropped, failed));
                }
            }).ConfigureAwait(false);
        return new SelfInstructResult(items);
    }

    /// <summary>The request options with the figure's pair_id attached (used by the synthetic provider; part of the
    /// cache key, not sent to services).</summary>
    ChatOptions OptionsFor(FigureCaptionRecord figure)
    {
        var perFigure = requestOptions.Clone();
        perFigure.AdditionalProperties = new AdditionalPropertiesDictionary(requestOptions.AdditionalProperties ?? [])
        {
            [SyntheticChatClient.PairIdProperty] = figure.PairId,
        };
        return perFigure;
    }

    /// <summary>Parse, clean, place the image marker and build the record: the pure part of the pipeline. Cleaning
    /// comes before placing <c>&lt;image&gt;</c> (the reference placed it first, so when cleaning dropped the
    /// first pair its record lost the image marker).</summary>
    public SelfInstructItem Postprocess(FigureCaptionRecord figure, string reply, int seed, string imageExtension = ".jpg")
    {
        var parsed = ConversationParser.Parse(reply);
        var cleaned = rules.Clean(parsed.Pairs);
        var problems = parsed.Problems.Concat(cleaned.Dropped.Select(d => $"dropped pair ({d.Reason})")).ToList();
        if (cleaned.Kept.Count == 0)
        {
            if (parsed.Pairs.Count == 0 && problems.Count == 0) problems.Add("empty reply");
            return new SelfInstructItem(figure.PairId, SelfInstructStatus.Dropped, null, parsed.Pairs.Count, 0, problems);
        }
        var turns = new List<ConversationTurn>();
        foreach (var (pair, i) in cleaned.Kept.Select((p, i) => (p, i)))
        {
            turns.Add(new ConversationTurn(ConversationTurn.HumanSpeaker, i == 0 ? PlaceImage(pair.Question, figure.PairId, seed) : pair.Question));
            turns.Add(new ConversationTurn(ConversationTurn.GptSpeaker, pair.Answer));
        }
        var extra = new JsonObject { ["domain"] = figure.Domain?.DeepClone() ?? new JsonObject() };
        var sample = new LlavaSample(figure.PairId, figure.PairId + imageExtension, turns, Extra: extra);
        return new SelfInstructItem(figure.PairId, SelfInstructStatus.Kept, sample, parsed.Pairs.Count, cleaned.Kept.Count, problems);
    }

    /// <summary>Puts <c>&lt;image&gt;</c> on its own line before or after the first question, each with probability
    /// 1/2 as in the reference; the coin is a hash of (seed, pair_id), so the choice does not depend on the order
    /// in which concurrent requests finish, nor on a resumed run.</summary>
    public static string PlaceImage(string question, string pairId, int seed)
    {
        var coin = SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}\n{pairId}"))[0] & 1;
        return coin == 1 ? $"{question}\n{LlavaTokenizer.ImagePlaceholder}" : $"{LlavaTokenizer.ImagePlaceholder}\n{question}";
    }

    /// <summary>A seeded random subset of <paramref name="count"/> figures in their original order (the paper's
    /// 10K set is a subset of the 60K figures).</summary>
    public static IReadOnlyList<FigureCaptionRecord> Subset(IReadOnlyList<FigureCaptionRecord> figures, int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count >= figures.Count) return figures;
        var chosen = Enumerable.Range(0, figures.Count).ToArray();
        new Random(seed).Shuffle(chosen);
        return chosen.Take(count).Order().Select(i => figures[i]).ToList();
    }

    /// <summary>Writes records as LLaVA-Med's instruct files are: one indented JSON array, atomically.</summary>
    public static void WriteSamples(string path, IEnumerable<LlavaSample> samples)
    {
        var array = new JsonArray(samples.Select(s => (JsonNode)s.ToJson()).ToArray());
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        AtomicFile.Write(path, stream =>
        {
            // Relaxed escaping keeps "<image>" and non-ASCII text readable, as Python's json.dump writes them.
            using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions
            {
                Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            });
            array.WriteTo(writer);
        });
    }
}
