using System.CommandLine;
using System.Text.Json;
using LlavaMed.Data.SelfInstruct;
using LlavaMed.Data.Synthetic;
using LlavaMed.Llm;
using LlavaMed.Workbench;
using Microsoft.Extensions.AI;

namespace LlavaMed.Cli;

/// <summary><c>llava-med data self-instruct</c>: the paper's instruction-data generation. One chat request per
/// figure caption, replies parsed and cleaned into LLaVA conversation records (<c>llava_med_instruct_*</c> layout).</summary>
public static class SelfInstructCommand
{
    public static Command Create()
    {
        var captions = new Option<string>("--captions")
        {
            Description = "figure captions (llava_med_instruct_fig_captions layout: JSON object of domain -> list, JSON array or JSONL)",
            Required = true,
        };
        var output = new Option<string>("--out") { Description = "output JSON (llava_med_instruct_* layout)", Required = true };
        var inlineMentions = new Option<bool>("--inline-mentions") { Description = "add the article's sentences that cite the figure (the paper's 60K-IM variant)" };
        var subset = new Option<int?>("--subset") { Description = "use a seeded random subset of N figures (the paper's 10K set)" };
        var imageExtension = new Option<string>("--image-extension")
        {
            Description = "records name their image {pair_id}EXT: .jpg for LLaVA-Med's PMC figures, .png for the synthetic corpus",
            DefaultValueFactory = _ => ".jpg",
        };
        var seed = new Option<int>("--seed") { Description = "seed for --subset and the <image> placement", DefaultValueFactory = _ => 0 };
        var systemPrompt = new Option<string?>("--system-prompt") { Description = "system prompt text file (e.g. the paper's, for exact reproduction)" };
        var fewShot = new Option<string?>("--few-shot")
        {
            Description = "few-shot examples JSON (array of caption records with 'conversations', the layout of the paper's examples)",
        };
        var rules = new Option<string?>("--rules") { Description = "post-processing rules JSON (default: data/prompts/self-instruct-cleaning.json)" };
        var onBadRecord = new Option<string>("--on-bad-record") { Description = "fail | skip (skipped records are listed)", DefaultValueFactory = _ => "fail" };
        var report = new Option<string?>("--report") { Description = "write one JSON line per figure: status, pairs parsed/kept, problems" };
        var provider = new ProviderCliOptions("", "synthetic");
        var command = new Command("self-instruct", "Generate instruction-following conversations from figure captions (paper section 3.2)")
        {
            captions, output, inlineMentions, subset, seed, imageExtension, systemPrompt, fewShot, rules, onBadRecord, report,
        };
        foreach (var option in provider.All) command.Options.Add(option);
        command.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            var skipBad = parse.GetValue(onBadRecord) switch
            {
                "fail" => false,
                "skip" => true,
                var other => throw new ArgumentException($"--on-bad-record must be fail or skip, not '{other}'"),
            };
            var (figures, bad) = FigureCaptionRecord.ReadFile(parse.GetValue(captions)!, skipBad);
            foreach (var error in bad) stderr.WriteLine($"skipped {error.Message}");
            var allCount = figures.Count;
            if (parse.GetValue(subset) is { } count) figures = SelfInstructGenerator.Subset(figures, count, parse.GetValue(seed));

            var providerOptions = provider.Resolve(parse);
            // A synthetic corpus's captions come with their ground truth (findings.json): the offline provider then
            // writes conversations from the truth instead of from the caption's sentences.
            if (providerOptions is { Provider: ChatProvider.Synthetic, SyntheticWriter: null }
                && FindingConversationWriter.ForCaptionsFile(parse.GetValue(captions)!) is { } findingWriter)
                providerOptions = providerOptions with { SyntheticWriter = findingWriter };
            using var client = ChatClientFactory.Create(providerOptions);
            var prompt = SelfInstructPrompt.Load(parse.GetValue(systemPrompt), parse.GetValue(fewShot));
            var generator = new SelfInstructGenerator(client, prompt, CleaningRules.Load(parse.GetValue(rules)),
                                                      ChatClientFactory.RequestOptions(providerOptions));
            var options = new SelfInstructOptions
            {
                InlineMentions = parse.GetValue(inlineMentions),
                Concurrency = parse.GetValue(provider.Concurrency),
                Seed = parse.GetValue(seed),
                ImageExtension = parse.GetValue(imageExtension)!,
            };
            stderr.WriteLine($"figures: {figures.Count}{(figures.Count < allCount ? $" (seeded subset of {allCount})" : "")}, "
                             + $"inline mentions {(options.InlineMentions ? "on" : "off")}, {prompt.FewShot.Count} few-shot examples");
            stderr.WriteLine($"provider: {provider.Describe(providerOptions)}");
            var step = Math.Max(1, figures.Count / 20);
            var progress = new InlineProgress<SelfInstructProgress>(p =>
            {
                if (p.Done % step == 0 || p.Done == p.Total)
                    stderr.WriteLine($"[{p.Done}/{p.Total}] kept {p.Kept}, dropped {p.Dropped}, failed {p.Failed}");
            });
            var result = generator.RunAsync(figures, options, progress).GetAwaiter().GetResult();

            SelfInstructGenerator.WriteSamples(parse.GetValue(output)!, result.Samples);
            if (parse.GetValue(report) is { } reportPath) WriteReport(reportPath, result);
            foreach (var failure in result.Items.Where(i => i.Status == SelfInstructStatus.Failed).Take(20))
                stderr.WriteLine($"failed {failure.PairId}: {failure.Problems.FirstOrDefault()}");
            var sent = client.GetService<RetryingChatClient>();
            stdout.WriteLine($"kept {result.Kept}, dropped {result.Dropped}, failed {result.Failed} of {figures.Count} figures; "
                             + $"question/answer pairs kept {result.PairsKept} of {result.PairsParsed}");
            stdout.WriteLine($"requests sent {sent?.Requests ?? 0} (retries {sent?.Retries ?? 0}); others answered from the cache");
            stdout.WriteLine($"wrote {result.Samples.Count} records to {parse.GetValue(output)}");
            if (result.Failed > 0)
            {
                stderr.WriteLine($"error: {result.Failed} figure(s) failed; rerun the same command to retry them (answered figures cost nothing)");
                return 1;
            }
            return 0;
        }));
        return command;
    }

    static void WriteReport(string path, SelfInstructResult result)
    {
        using var writer = new StreamWriter(path);
        foreach (var item in result.Items)
            writer.WriteLine(JsonSerializer.Serialize(new
            {
                pair_id = item.PairId,
                status = item.Status.ToString().ToLowerInvariant(),
                pairs_parsed = item.PairsParsed,
                pairs_kept = item.PairsKept,
                problems = item.Problems,
            }));
    }
}
