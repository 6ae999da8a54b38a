using System.CommandLine;
using System.Text.Json.Nodes;
using LlavaMed.Cli;
using LlavaMed.Data;
using LlavaMed.Data.Synthetic;
using LlavaMed.Images;

namespace LlavaMed.Tests.Data.Synthetic;

/// <summary>One small corpus shared by the tests that only read it.</summary>
public sealed class SmallCorpus : IDisposable
{
    public static readonly SyntheticCorpusOptions Options = new(Seed: 7, Figures: 300, GeneralScenes: 40, ImageSize: 64);
    readonly string folder = Directory.CreateTempSubdirectory("llava-synth-").FullName;
    public SyntheticCorpusSummary Summary { get; }
    public SyntheticCorpusLayout Layout => Summary.Layout;
    public IReadOnlyList<FindingRecord> Findings { get; }

    public SmallCorpus()
    {
        Summary = SyntheticCorpus.Generate(folder, Options);
        Findings = Layout.ReadFindings();
    }

    public JsonArray ReadArray(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsArray();

    public void Dispose() => Directory.Delete(folder, recursive: true);
}

public sealed class SyntheticCorpusTests(SmallCorpus corpus) : IClassFixture<SmallCorpus>
{
    static HashSet<string> Keys(JsonNode node) => node.AsObject().Select(p => p.Key).ToHashSet();

    Dictionary<string, FindingRecord> ByImage => corpus.Findings.ToDictionary(r => r.Image);

    [Fact]
    public void SameSeedGivesByteIdenticalFilesAndAnotherSeedDoesNot()
    {
        var options = new SyntheticCorpusOptions(Seed: 3, Figures: 25, GeneralScenes: 8, ImageSize: 48);
        var roots = new[] { 3, 3, 4 }.Select(seed =>
        {
            var root = Directory.CreateTempSubdirectory("llava-synth-det-").FullName;
            SyntheticCorpus.Generate(root, options with { Seed = seed });
            return root;
        }).ToArray();
        try
        {
            string[] Files(string root) => Directory.GetFiles(root, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToArray();
            Assert.Equal(Files(roots[0]), Files(roots[1]));
            foreach (var file in Files(roots[0]))
                Assert.True(File.ReadAllBytes(Path.Combine(roots[0], file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(roots[1], file))),
                            $"{file} differs between two generations with the same seed");
            Assert.NotEqual(File.ReadAllBytes(Path.Combine(roots[0], "findings.json")), File.ReadAllBytes(Path.Combine(roots[2], "findings.json")));
        }
        finally
        {
            foreach (var root in roots) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void VqaFilesUseVqaRadsOwnSchema()
    {
        var reference = JsonNode.Parse(File.ReadAllText(SharedFixtures.Require("datasets", "vqa-rad", "testset.json")))!.AsArray();
        var referenceKinds = reference[0]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValueKind());
        foreach (var path in new[] { corpus.Layout.VqaTrain, corpus.Layout.VqaTest })
        {
            var records = corpus.ReadArray(path);
            Assert.NotEmpty(records);
            foreach (var record in records)
            {
                Assert.Equal(referenceKinds.Keys.Order(), Keys(record!).Order());
                foreach (var (key, kind) in referenceKinds) Assert.Equal(kind, record![key]!.GetValueKind());
                Assert.Contains(record!["answer_type"]!.GetValue<string>(), new[] { "OPEN", "CLOSED" });
                Assert.Contains(record["image_organ"]!.GetValue<string>(), new[] { "CHEST", "HEAD", "ABD" });
                Assert.Contains(record["phrase_type"]!.GetValue<string>(), new[] { "freeform", "para" });
            }
        }
        var qids = corpus.ReadArray(corpus.Layout.VqaTrain).Concat(corpus.ReadArray(corpus.Layout.VqaTest)).Select(r => r!["qid"]!.GetValue<int>()).ToList();
        Assert.Equal(qids.Count, qids.Distinct().Count());
    }

    [Fact]
    public void AlignmentRecordsAreLlavaConversationsWithTheCaption()
    {
        var samples = LlavaSample.ReadJsonArray(corpus.Layout.Alignment);
        Assert.All(corpus.ReadArray(corpus.Layout.Alignment), r => Assert.Equal(["conversations", "id", "image"], Keys(r!).Order()));
        var figCaptions = FigCaptionsByPairId();
        foreach (var sample in samples)
        {
            Assert.Equal(2, sample.Conversations.Count);
            Assert.Contains("<image>", sample.Conversations[0].Value);
            Assert.Equal("human", sample.Conversations[0].From);
            Assert.Equal("gpt", sample.Conversations[1].From);
            Assert.Equal(figCaptions[sample.Id]["fig_caption"]!.GetValue<string>(), sample.Answer);
            Assert.Equal(sample.Id + ".png", sample.Image);
            Assert.True(File.Exists(Path.Combine(corpus.Layout.Images, sample.Image!)));
        }
    }

    Dictionary<string, JsonObject> FigCaptionsByPairId()
    {
        var root = JsonNode.Parse(File.ReadAllText(corpus.Layout.InstructFigCaptions))!.AsObject();
        return root.SelectMany(domain => domain.Value!.AsArray()).ToDictionary(r => r!["pair_id"]!.GetValue<string>(), r => r!.AsObject());
    }

    [Fact]
    public void FigCaptionsAreADictionaryOfDomainListsInTheReleasedLayout()
    {
        var root = JsonNode.Parse(File.ReadAllText(corpus.Layout.InstructFigCaptions))!.AsObject();
        Assert.Equal(["chest_xray", "ct_scan", "gross", "histology", "mri"], root.Select(p => p.Key).Order());
        foreach (var (domain, list) in root)
            foreach (var record in list!.AsArray())
            {
                Assert.Equal(["domain", "fig_caption", "fig_id", "fig_label", "in_text_mention", "pair_id", "pmid"], Keys(record!).Order());
                var flags = record!["domain"]!.AsObject();
                Assert.Equal(["chest_xray", "ct_scan", "gross", "histology", "mri"], flags.Select(p => p.Key).Order());
                Assert.True(flags[domain]!.GetValue<bool>());
                Assert.Single(flags, f => f.Value!.GetValue<bool>());
                if (record["in_text_mention"] is JsonArray mentions)
                    foreach (var mention in mentions)
                    {
                        var tokens = mention!["tokens"]!.GetValue<string>().Split(' ');
                        var entity = mention["entities"]![0]!;
                        Assert.Equal("figure", entity["type"]!.GetValue<string>());
                        var span = string.Join(' ', tokens[entity["start_tok"]!.GetValue<int>()..entity["end_tok"]!.GetValue<int>()]);
                        Assert.Equal(record["fig_label"]!.GetValue<string>(), span);
                        Assert.EndsWith(entity["entity_id"]!.GetValue<string>(), span);
                    }
            }
        var mentionCounts = root.SelectMany(d => d.Value!.AsArray()).Select(r => (r!["in_text_mention"] as JsonArray)?.Count ?? 0).ToHashSet();
        Assert.Equal([0, 1, 2], mentionCounts.Order());
    }

    [Fact]
    public void ChatEvaluationUsesTheQa50Layout()
    {
        var lines = File.ReadAllLines(corpus.Layout.ChatEval);
        Assert.NotEmpty(lines);
        string[] fields = ["domain", "fig_caption", "fig_label", "gpt4_answer", "image", "in_text_mention", "pair_id", "question_id", "text", "type"];
        var types = new HashSet<string>();
        foreach (var (line, i) in lines.Select((l, i) => (l, i)))
        {
            var record = JsonNode.Parse(line)!;
            Assert.Equal(fields, Keys(record).Order());
            Assert.Equal(i, record["question_id"]!.GetValue<int>());
            Assert.EndsWith("\n<image>", record["text"]!.GetValue<string>());
            Assert.Equal("test", ByImage[record["image"]!.GetValue<string>()].Split);
            types.Add(record["type"]!.GetValue<string>());
        }
        Assert.Equal(["conversation", "detailed_description"], types.Order());
    }

    [Fact]
    public void SplitsAreByImage()
    {
        var trainImages = corpus.ReadArray(corpus.Layout.VqaTrain).Select(r => r!["image_name"]!.GetValue<string>()).ToHashSet();
        var testImages = corpus.ReadArray(corpus.Layout.VqaTest).Select(r => r!["image_name"]!.GetValue<string>()).ToHashSet();
        Assert.NotEmpty(testImages);
        Assert.Empty(trainImages.Intersect(testImages));
        Assert.All(trainImages, image => Assert.Equal("train", ByImage[image].Split));
        Assert.All(testImages, image => Assert.Equal("test", ByImage[image].Split));
        Assert.All(LlavaSample.ReadJsonArray(corpus.Layout.Alignment), s => Assert.DoesNotContain(s.Image!, testImages));
        Assert.All(FigCaptionsByPairId().Keys, id => Assert.DoesNotContain(id + ".png", testImages));
        var testShare = corpus.Findings.Count(r => r.Split == "test") / (double)corpus.Findings.Count;
        Assert.InRange(testShare, 0.12, 0.18);
    }

    [Fact]
    public void YesNoAnswersAreBalancedAndClosedAndOpenAreMixed()
    {
        foreach (var path in new[] { corpus.Layout.VqaTrain, corpus.Layout.VqaTest })
        {
            var records = corpus.ReadArray(path).Select(r => r!).ToList();
            var yesNo = records.Where(r => r["answer"]!.GetValue<string>() is "yes" or "no").ToList();
            var yesShare = yesNo.Count(r => r["answer"]!.GetValue<string>() == "yes") / (double)yesNo.Count;
            TestContext.Current.TestOutputHelper?.WriteLine($"{Path.GetFileName(path)}: {records.Count} questions, {yesNo.Count} yes/no, yes share {yesShare:F3}");
            Assert.InRange(yesShare, path == corpus.Layout.VqaTrain ? 0.45 : 0.38, path == corpus.Layout.VqaTrain ? 0.55 : 0.62);
            Assert.All(yesNo, r => Assert.Equal("CLOSED", r["answer_type"]!.GetValue<string>()));
            var closedShare = records.Count(r => r["answer_type"]!.GetValue<string>() == "CLOSED") / (double)records.Count;
            Assert.InRange(closedShare, 0.35, 0.65);
            // Two-choice closed questions exist too (answer named in the question).
            Assert.Contains(records, r => r["answer_type"]!.GetValue<string>() == "CLOSED" && r["answer"]!.GetValue<string>() is "left" or "right" or "small" or "large");
        }
    }

    [Fact]
    public void CaptionsVaryForEveryFinding()
    {
        var captions = FigCaptionsByPairId();
        foreach (var group in corpus.Findings.Where(r => r.Split == "train").GroupBy(r => (r.Domain, r.Finding)))
        {
            var texts = group.Select(r => captions[r.PairId]["fig_caption"]!.GetValue<string>()).ToList();
            var openings = texts.Select(t => string.Join(' ', t.Split(' ').Take(2))).Distinct().Count();
            Assert.True(texts.Distinct().Count() >= Math.Min(4, texts.Count), $"{group.Key}: too few distinct captions");
            Assert.True(openings >= Math.Min(3, texts.Count), $"{group.Key}: captions share too few templates ({openings} openings)");
        }
    }

    [Fact]
    public void EveryDomainAndFindingAppearsInEveryFile()
    {
        foreach (var domain in DomainCatalog.Domains)
        {
            foreach (var finding in domain.Findings.Select(f => f.Key).Append(DomainCatalog.Normal))
                Assert.Contains(corpus.Findings, r => r.Domain == domain.Domain && r.Finding == finding);
            foreach (var path in new[] { corpus.Layout.VqaTrain, corpus.Layout.VqaTest })
                Assert.Contains(corpus.ReadArray(path), q => ByImage[q!["image_name"]!.GetValue<string>()].Domain == domain.Domain);
            Assert.Contains(File.ReadAllLines(corpus.Layout.ChatEval), l => JsonNode.Parse(l)!["domain"]![domain.FlagName]!.GetValue<bool>());
        }
    }

    [Fact]
    public void ImagesDecodeAtTheRequestedSize()
    {
        var images = Directory.GetFiles(corpus.Layout.Images).Concat(Directory.GetFiles(corpus.Layout.GeneralImages)).ToList();
        Assert.Equal(SmallCorpus.Options.Figures + SmallCorpus.Options.GeneralScenes, images.Count);
        foreach (var path in images)
        {
            var image = RgbImage.Load(path);
            Assert.Equal((SmallCorpus.Options.ImageSize, SmallCorpus.Options.ImageSize), (image.Width, image.Height));
        }
    }

    [Fact]
    public void AnswersAgreeWithTheFindingRecords()
    {
        var checkedQuestions = 0;
        foreach (var q in corpus.ReadArray(corpus.Layout.VqaTrain).Concat(corpus.ReadArray(corpus.Layout.VqaTest)).Select(n => n!))
        {
            var record = ByImage[q["image_name"]!.GetValue<string>()];
            var (question, answer, type) = (q["question"]!.GetValue<string>(), q["answer"]!.GetValue<string>(), q["question_type"]!.GetValue<string>());
            string? expected = type switch
            {
                "PRES" => record.Spec.Findings.Single(f => question.Contains(f.Key)).Key == record.Finding ? "yes" : "no",
                "ABN" when question.Contains("normal?") => record.IsNormal ? "yes" : "no",
                "ABN" when question.Contains("abnormal") => record.IsNormal ? "no" : "yes",
                "ABN" => record.Finding,
                "ORGAN" => record.Anatomy,
                "COUNT" => record.Count.ToString(),
                "POS" when question.Contains("left or right") => record.Laterality,
                "POS" when question.Contains(" left") || question.Contains(" right") => question.Contains(" " + record.Laterality) ? "yes" : "no",
                "POS" => record.Location,
                "SIZE" when question.Contains("small or large") => record.Size,
                "SIZE" => question.Contains(" " + record.Size) ? "yes" : "no",
                "MODALITY" when q["answer_type"]!.GetValue<string>() == "OPEN" => record.Modality,
                "COLOR" => record.Appearance,
                _ => null,
            };
            if (expected is null) continue;
            Assert.True(expected == answer, $"qid {q["qid"]}: '{question}' answered '{answer}', record says '{expected}' ({record.PairId})");
            checkedQuestions++;
        }
        Assert.True(checkedQuestions > 1000, $"only {checkedQuestions} questions checked");
    }

    [Fact]
    public void FindingRecordsRoundTripAndBadRecordsNameTheirIndex()
    {
        Assert.Equal(SmallCorpus.Options.Figures, corpus.Findings.Count);
        var first = corpus.Findings[0];
        Assert.Equal(first.PairId + ".png", first.Image);
        var json = corpus.ReadArray(corpus.Layout.Findings);
        Assert.Equal(["anatomy", "appearance", "count", "domain", "fig_id", "fig_label", "finding", "image", "laterality", "level", "modality", "pair_id", "pmid", "size", "split"],
                     Keys(json[0]!).Order());
        json[2]!["finding"] = "dragon";
        var bad = Path.Combine(Path.GetTempPath(), $"findings-bad-{Guid.NewGuid():N}.json");
        File.WriteAllText(bad, json.ToJsonString());
        try
        {
            var error = Assert.Throws<DataFormatException>(() => FindingRecord.ReadAll(bad));
            Assert.Equal("[2]", error.Location);
        }
        finally
        {
            File.Delete(bad);
        }
    }

    [Fact]
    public void GeneralScenesAreLlavaConversationsAboutTheirShapes()
    {
        var scenes = corpus.ReadArray(corpus.Layout.GeneralScenes);
        var alignment = LlavaSample.ReadJsonArray(corpus.Layout.GeneralAlignment);
        var instruct = LlavaSample.ReadJsonArray(corpus.Layout.GeneralInstruct);
        Assert.Equal(scenes.Count, alignment.Count);
        Assert.Equal(scenes.Count, instruct.Count);
        foreach (var (scene, caption, chat) in scenes.Zip(alignment, instruct))
        {
            var objects = scene!["objects"]!.AsArray();
            Assert.All(objects, o => Assert.Contains($"{o!["colour"]} {o["shape"]}", caption.Answer));
            Assert.Equal(6, chat.Conversations.Count);
            Assert.Contains("<image>", chat.Conversations[0].Value);
            foreach (var turn in chat.Conversations.Skip(1)) Assert.DoesNotContain("<image>", turn.Value);
            var count = chat.Conversations.Zip(chat.Conversations.Skip(1)).FirstOrDefault(p => p.First.Value.Contains("How many"));
            if (count != default) Assert.Contains(objects.Count.ToString(), count.Second.Value);
        }
    }

    [Fact]
    public void EnsureGeneratedReusesTheCacheForTheSameOptions()
    {
        var cache = Directory.CreateTempSubdirectory("llava-synth-cache-").FullName;
        try
        {
            var options = new SyntheticCorpusOptions(Seed: 1, Figures: 10, GeneralScenes: 4, ImageSize: 32);
            var stages = new List<string>();
            var first = SyntheticCorpus.EnsureGenerated(cache, options, new LlavaMed.Workbench.InlineProgress<SyntheticProgress>(p => { lock (stages) stages.Add(p.Stage); }));
            Assert.False(first.FromCache);
            Assert.Contains("figures", stages);
            var second = SyntheticCorpus.EnsureGenerated(cache, options);
            Assert.True(second.FromCache);
            Assert.Equal(first.Layout, second.Layout);
            Assert.Equal(first.Files, second.Files);
            var other = SyntheticCorpus.EnsureGenerated(cache, options with { Seed = 2 });
            Assert.NotEqual(first.Layout.Root, other.Layout.Root);
            Assert.Equal([options.CacheKey, (options with { Seed = 2 }).CacheKey], Directory.GetDirectories(cache).Select(Path.GetFileName).Order());
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }


    [Fact]
    public void BadOptionsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new SyntheticCorpusOptions(ImageSize: 8).Validate());
        Assert.Throws<ArgumentException>(() => new SyntheticCorpusOptions(Figures: -1).Validate());
        Assert.Throws<ArgumentException>(() => new SyntheticCorpusOptions(TestFraction: 1).Validate());
    }

    [Fact]
    public void DataSynthCommandPrintsCountsPerFile()
    {
        var folder = Directory.CreateTempSubdirectory("llava-synth-cli-").FullName;
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var code = CliApp.Build().Parse(["data", "synth", "--out", folder, "--seed", "5", "--figures", "15", "--general-scenes", "5", "--image-size", "40"])
                .Invoke(new InvocationConfiguration { Output = output, Error = error });
            TestContext.Current.TestOutputHelper?.WriteLine(output + error.ToString());
            Assert.Equal(0, code);
            Assert.Contains("vqa/trainset.json", output.ToString());
            Assert.Contains("wrote 15 figures and 5 general scenes at 40 px (seed 5)", output.ToString());
            Assert.Equal(15, Directory.GetFiles(Path.Combine(folder, "images")).Length);
            var bad = CliApp.Build().Parse(["data", "synth", "--out", folder, "--image-size", "2"])
                .Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = error = new StringWriter() });
            Assert.Equal(1, bad);
            Assert.StartsWith("error: --image-size", error.ToString());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
