using System.Text.Json.Nodes;
using LlavaMed.Data;
using LlavaMed.Data.SelfInstruct;

namespace LlavaMed.Tests.Data.SelfInstruct;

public sealed class CaptionFileAndWriterTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-si-captions-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    string Write(string name, string text)
    {
        var path = Path.Combine(temporary, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void DomainGroupedFileIsInterleavedRoundRobinAsTheReferenceReadsIt()
    {
        var path = Write("caps.json", """
            {"chest_xray": [{"pair_id": "c1", "fig_label": "Figure 1", "fig_caption": "x", "in_text_mention": [], "domain": {"chest_xray": true}},
                            {"pair_id": "c2", "fig_label": "Figure 2", "fig_caption": "x", "in_text_mention": []}],
             "mri": [{"pair_id": "m1", "fig_label": "Figure 1", "fig_caption": "x", "in_text_mention": [{"tokens": "seen ( Figure 1 ) .", "entities": []}], "pmid": "42"}],
             "histology": [{"pair_id": "h1", "fig_label": "F", "fig_caption": "x"}, {"pair_id": "h2", "fig_label": "F", "fig_caption": "x"},
                           {"pair_id": "h3", "fig_label": "F", "fig_caption": "x"}]}
            """);
        var (records, bad) = FigureCaptionRecord.ReadFile(path);
        Assert.Empty(bad);
        Assert.Equal(["c1", "m1", "h1", "c2", "h2", "h3"], records.Select(r => r.PairId));
        var mri = records[1];
        Assert.Equal(["seen ( Figure 1 ) ."], mri.InTextMentions);
        Assert.Equal("\"42\"", mri.Extra!["pmid"]!.ToJsonString());
    }

    [Fact]
    public void ArrayAndJsonlLayoutsAreRead()
    {
        var array = Write("a.json", """[{"pair_id": "a", "fig_caption": "x"}, {"pair_id": "b", "fig_caption": "y", "in_text_mention": "one"}]""");
        Assert.Equal(["a", "b"], FigureCaptionRecord.ReadFile(array).Records.Select(r => r.PairId));
        Assert.Equal(["one"], FigureCaptionRecord.ReadFile(array).Records[1].InTextMentions);
        var jsonl = Write("a.jsonl", "{\"pair_id\": \"a\", \"fig_caption\": \"x\"}\n\n{\"pair_id\": \"b\", \"fig_caption\": \"y\"}\n");
        Assert.Equal(["a", "b"], FigureCaptionRecord.ReadFile(jsonl).Records.Select(r => r.PairId));
    }

    [Fact]
    public void BadRecordsFailOrAreSkippedAndListedWithTheirLocation()
    {
        var path = Write("bad.jsonl", "{\"pair_id\": \"a\", \"fig_caption\": \"x\"}\n{\"pair_id\": \"b\"}\nnot json\n{\"pair_id\": \"c\", \"fig_caption\": \"z\"}\n");
        var error = Assert.Throws<DataFormatException>(() => FigureCaptionRecord.ReadFile(path));
        Assert.Equal("line 2", error.Location);
        Assert.Contains("fig_caption", error.Problem);
        var (records, bad) = FigureCaptionRecord.ReadFile(path, skipBadRecords: true);
        Assert.Equal(["a", "c"], records.Select(r => r.PairId));
        Assert.Equal(["line 2", "line 3"], bad.Select(b => b.Location));
    }

    [Theory]
    [InlineData("{\"histology\": true, \"gross\": true}", "histology")]
    [InlineData("{\"ct_scan\": true, \"mri\": true}", "mri")]
    [InlineData("{\"chest_xray\": false, \"gross\": true}", "gross")]
    [InlineData("{\"chest_xray\": false}", null)]
    public void FirstDomainFollowsTheReferenceOrder(string flags, string? expected) =>
        Assert.Equal(expected, FigureCaptionRecord.FirstDomain(JsonNode.Parse(flags)!.AsObject()));

    static readonly FigureCaptionRecord Histology = new("h", "Fig. 3",
        "The gross histopathologic finding disclosed the portion of conjunctiva showing a cystic wall lined by a single layer of "
        + "low cuboidal epithelium [12]. Note the mitotic figures (arrows) in the epithelium. (H & E stain, ×100)",
        ["Inflammatory cells were not found in the vicinity ( Fig. 3 , 4 , 5 ) ."]);

    [Fact]
    public void CaptionWriterBuildsAFaithfulDeterministicConversation()
    {
        var writer = new CaptionConversationWriter();
        var pairs = writer.Write(Histology with { InTextMentions = [] });
        Assert.Equal([
            new ConversationPair("What type of image is this?", "This appears to be a microscopy image of a tissue section."),
            new ConversationPair("What does the image show?", "The gross histopathologic finding disclosed the portion of conjunctiva showing a cystic wall lined by a single "
                + "layer of low cuboidal epithelium."),
            new ConversationPair("What do the arrows indicate?", "Note the mitotic figures (arrows) in the epithelium."),
        ], pairs);
        Assert.Equal(pairs, writer.Write(Histology with { InTextMentions = [] }));

        var withMentions = writer.Write(Histology);
        Assert.Equal(4, withMentions.Count);
        Assert.Equal("Inflammatory cells were not found in the vicinity.", withMentions[^1].Answer);
        var cleaned = CleaningRules.Load().Clean(withMentions);
        Assert.Empty(cleaned.Dropped);
    }

    [Fact]
    public void ASingleSentenceCaptionStillGivesTwoTurns()
    {
        var pairs = new CaptionConversationWriter().Write(new("x", "Figure 5", "Photograph of the patient's left hand showing swelling of the index finger", []));
        Assert.Equal(2, pairs.Count);
        Assert.Equal("The image shows swelling of the index finger.", pairs[1].Answer);
    }

    [Fact]
    public async Task SyntheticClientRefusesRequestsThatAreNotFigures()
    {
        using var client = new SyntheticChatClient(new CaptionConversationWriter());
        await Assert.ThrowsAsync<NotSupportedException>(() =>
            client.GetResponseAsync([new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.User, "Rate these answers.")],
                                    cancellationToken: TestContext.Current.CancellationToken));
    }
}
