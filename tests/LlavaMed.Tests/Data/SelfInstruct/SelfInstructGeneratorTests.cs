using System.Text.Json.Nodes;
using LlavaMed.Data;
using LlavaMed.Data.SelfInstruct;
using LlavaMed.Llm;
using LlavaMed.Tests.Llm;
using Microsoft.Extensions.AI;

namespace LlavaMed.Tests.Data.SelfInstruct;

public sealed class SelfInstructGeneratorTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-si-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    static IReadOnlyList<FigureCaptionRecord> Figures(int count) => Enumerable.Range(0, count).Select(i => new FigureCaptionRecord(
        $"PMC{i}_F1", "Figure 1",
        $"Axial CT image of the abdomen number {i} showing a large hypodense lesion in the right lobe of the liver. "
        + "The arrows indicate the enhancing rim around the lesion.",
        [$"The lesion measured several centimetres in case {i} ( Figure 1 ) ."],
        new JsonObject { ["chest_xray"] = false, ["mri"] = false, ["ct_scan"] = true, ["histology"] = false, ["gross"] = false })).ToList();

    ProviderOptions Synthetic(string? cache = null) => new() { Provider = ChatProvider.Synthetic, CacheFolder = cache };

    static SelfInstructGenerator Generator(IChatClient client, ProviderOptions options) =>
        new(client, SelfInstructPrompt.Load(), CleaningRules.Load(), ChatClientFactory.RequestOptions(options));

    [Fact]
    public void PostprocessCleansThenPlacesTheImageInTheFirstKeptQuestion()
    {
        var generator = Generator(new SyntheticChatClient(new CaptionConversationWriter()), Synthetic());
        var figure = Figures(1)[0];
        var item = generator.Postprocess(figure, "User: What does the caption say?\nAssistant: Sorry, I cannot see the image.\n"
                                                  + "User: Which organ?\nAssistant: Based on the caption, the liver.\n"
                                                  + "User: Any rim?\nAssistant: Yes, an enhancing rim.", seed: 0);
        Assert.Equal(SelfInstructStatus.Kept, item.Status);
        Assert.Equal((3, 2), (item.PairsParsed, item.PairsKept));
        var turns = item.Sample!.Conversations;
        Assert.Equal(["human", "gpt", "human", "gpt"], turns.Select(t => t.From));
        Assert.Contains("<image>", turns[0].Value);
        Assert.Equal("Which organ?", turns[0].Value.Replace("<image>", "").Trim());
        Assert.Equal("The liver.", turns[1].Value);
        Assert.DoesNotContain("<image>", turns[2].Value);
        Assert.Equal("PMC0_F1.jpg", item.Sample.Image);
        Assert.True((bool)item.Sample.Extra!["domain"]!["ct_scan"]!);
        Assert.Single(item.Problems);
    }

    [Fact]
    public void ARecordWithNothingLeftIsDroppedWithItsReasons()
    {
        var generator = Generator(new SyntheticChatClient(new CaptionConversationWriter()), Synthetic());
        var item = generator.Postprocess(Figures(1)[0], "I'm sorry, I cannot generate this.", seed: 0);
        Assert.Equal(SelfInstructStatus.Dropped, item.Status);
        Assert.Null(item.Sample);
        Assert.NotEmpty(item.Problems);
    }

    [Fact]
    public void ImagePlacementIsSeededPerFigureAndUsesBothSides()
    {
        var placements = Enumerable.Range(0, 200).Select(i => SelfInstructGenerator.PlaceImage("Q?", $"id{i}", seed: 7)).ToList();
        Assert.Contains("<image>\nQ?", placements);
        Assert.Contains("Q?\n<image>", placements);
        Assert.InRange(placements.Count(p => p.StartsWith("<image>")), 70, 130);
        Assert.Equal(placements, Enumerable.Range(0, 200).Select(i => SelfInstructGenerator.PlaceImage("Q?", $"id{i}", seed: 7)));
        Assert.NotEqual(placements, Enumerable.Range(0, 200).Select(i => SelfInstructGenerator.PlaceImage("Q?", $"id{i}", seed: 8)));
    }

    [Fact]
    public void SubsetIsSeededAndKeepsTheOriginalOrder()
    {
        var figures = Figures(50);
        var subset = SelfInstructGenerator.Subset(figures, 10, seed: 3);
        Assert.Equal(10, subset.Count);
        Assert.Equal(subset.OrderBy(f => figures.ToList().IndexOf(f)), subset);
        Assert.Equal(subset, SelfInstructGenerator.Subset(figures, 10, seed: 3));
        Assert.NotEqual(subset, SelfInstructGenerator.Subset(figures, 10, seed: 4));
        Assert.Same(figures, SelfInstructGenerator.Subset(figures, 99, seed: 3));
    }

    [Fact]
    public async Task SecondRunIsAnsweredFromTheCacheWithZeroRequests()
    {
        var options = Synthetic(Path.Combine(temporary, "cache"));
        var figures = Figures(12);
        var run = new SelfInstructOptions { InlineMentions = true, Concurrency = 3, Seed = 1 };
        SelfInstructResult first, second;
        using (var client = ChatClientFactory.Create(options))
        {
            first = await Generator(client, options).RunAsync(figures, run, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(12, client.GetService<RetryingChatClient>()!.Requests);
        }
        using (var client = ChatClientFactory.Create(options))
        {
            second = await Generator(client, options).RunAsync(figures, run, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(0, client.GetService<RetryingChatClient>()!.Requests);
        }
        Assert.Equal(12, first.Kept);
        Assert.Equal(first.Samples.Select(s => s.ToJson().ToJsonString()), second.Samples.Select(s => s.ToJson().ToJsonString()));
        // The other variant (no mentions) is a different request: not served from these entries.
        using (var client = ChatClientFactory.Create(options))
        {
            await Generator(client, options).RunAsync(figures.Take(2).ToList(), run with { InlineMentions = false },
                                                      cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(2, client.GetService<RetryingChatClient>()!.Requests);
        }
    }

    /// <summary>Fails every request for figures whose pair_id is in <see cref="Failing"/>, like a service that went
    /// down part-way through a run.</summary>
    sealed class FlakyClient(IChatClient inner) : DelegatingChatClient(inner)
    {
        public HashSet<string> Failing { get; } = [];

        public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
                                                            CancellationToken cancellationToken = default)
        {
            var id = options?.AdditionalProperties?[SyntheticChatClient.PairIdProperty] as string;
            return Failing.Contains(id!) ? throw new InvalidOperationException($"service down for {id}")
                                         : base.GetResponseAsync(messages, options, cancellationToken);
        }
    }

    [Fact]
    public async Task ACrashedRunResumesPayingOnlyForWhatFailed()
    {
        var cache = new FileResponseCache(Path.Combine(temporary, "cache"));
        var figures = Figures(8);
        var options = Synthetic();
        var flaky = new FlakyClient(new SyntheticChatClient(new CaptionConversationWriter()));
        flaky.Failing.UnionWith(["PMC2_F1", "PMC5_F1"]);
        var counting = new RetryingChatClient(flaky, maxAttempts: 1, TimeSpan.Zero, TimeSpan.Zero);
        using var client = new ChatClientBuilder(counting).UseDistributedCache(cache).Build();
        var generator = Generator(client, options);

        var first = await generator.RunAsync(figures, new SelfInstructOptions(), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal((6, 2), (first.Kept, first.Failed));
        Assert.Equal(["PMC2_F1", "PMC5_F1"], first.Items.Where(i => i.Status == SelfInstructStatus.Failed).Select(i => i.PairId));
        Assert.Contains("service down", first.Items[2].Problems[0]);

        flaky.Failing.Clear();
        var before = counting.Requests;
        var second = await generator.RunAsync(figures, new SelfInstructOptions(), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(2, counting.Requests - before);
        Assert.Equal(8, second.Kept);
    }

    [Fact]
    public async Task SelfInstructRunsThroughARealOpenAIClientAndALocalServer()
    {
        const string reply = "User: What kind of scan is this?\n\nAssistant: Based on the figure caption, this is an axial CT of the abdomen.\n\n"
                             + "User: What do the arrows show?\n\nAssistant: They point at the enhancing rim of the lesion.\n\n"
                             + "User: What does the caption mention?\n\nAssistant: I'm sorry, I can't see it.";
        using var server = new OpenAIProtocolServer((_, _) => ServerReply.Ok(reply));
        var options = new ProviderOptions
        {
            Provider = ChatProvider.OpenAI, Model = "gpt-4-test", Endpoint = server.OpenAIBase, ApiKey = "sk-test",
            CacheFolder = Path.Combine(temporary, "http-cache"), BaseRetryDelay = TimeSpan.FromMilliseconds(5),
        };
        var figures = Figures(3);
        SelfInstructResult result;
        using (var client = ChatClientFactory.Create(options))
            result = await Generator(client, options).RunAsync(figures, new SelfInstructOptions { InlineMentions = true, Concurrency = 2 },
                                                                cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(3, server.RequestCount);
        Assert.Equal(3, result.Kept);
        Assert.All(result.Samples, s => Assert.Equal(4, s.Conversations.Count));
        Assert.Equal("This is an axial CT of the abdomen.", result.Samples[0].Conversations[1].Value);
        var request = server.Requests.Single(r => r.LastUserText.Contains("number 1 "));
        Assert.Equal("gpt-4-test", (string?)request.Body["model"]);
        Assert.Equal(0.0, (double)request.Body["temperature"]!);
        Assert.Equal(SelfInstructPrompt.FormatFigure(figures[1], inlineMentions: true), request.LastUserText);
        Assert.Equal(2 + 2 * SelfInstructPrompt.Load().FewShot.Count, request.Body["messages"]!.AsArray().Count);

        using (var client = ChatClientFactory.Create(options))
            await Generator(client, options).RunAsync(figures, new SelfInstructOptions { InlineMentions = true },
                                                      cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(3, server.RequestCount); // the rerun cost nothing
    }

    [Fact]
    public void WrittenFileIsTheInstructLayoutAndReadsBack()
    {
        var generator = Generator(new SyntheticChatClient(new CaptionConversationWriter()), Synthetic());
        var sample = generator.Postprocess(Figures(1)[0], "User: Which organ?\nAssistant: The liver.", seed: 0).Sample!;
        var path = Path.Combine(temporary, "out", "llava_med_instruct_test.json");
        SelfInstructGenerator.WriteSamples(path, [sample]);
        var text = File.ReadAllText(path);
        Assert.Contains("<image>", text); // not \u003C-escaped
        var read = Assert.Single(LlavaSample.ReadJsonArray(path));
        Assert.Equal(sample.Conversations, read.Conversations);
        Assert.Equal(["id", "image", "conversations", "domain"], JsonNode.Parse(text)![0]!.AsObject().Select(p => p.Key));
    }
}
