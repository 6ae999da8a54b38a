using System.Diagnostics;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Text;

namespace LlavaMed.Data.Synthetic;

/// <summary>What to generate. The defaults are the workbench's built-in corpus: 2,000 biomedical figures (400 per
/// domain) and 1,000 general scenes at 112 px, 15% of the figures held out for VQA test and chat evaluation.</summary>
public sealed record SyntheticCorpusOptions(int Seed = 0, int Figures = 2000, int GeneralScenes = 1000, int ImageSize = 112,
                                            double TestFraction = 0.15, int ChatEvalFigures = 50)
{
    public void Validate()
    {
        if (Figures < 0 || GeneralScenes < 0) throw new ArgumentException("--figures and the number of general scenes must not be negative");
        if (ImageSize is < 16 or > 1024) throw new ArgumentException($"--image-size must be between 16 and 1024 (got {ImageSize})");
        if (TestFraction is < 0 or >= 1) throw new ArgumentException($"the test fraction must be in [0, 1) (got {TestFraction})");
        if (ChatEvalFigures < 0) throw new ArgumentException("the number of chat evaluation figures must not be negative");
    }

    /// <summary>The cache folder name: every option and the generator version, so a change regenerates.</summary>
    public string CacheKey => string.Create(CultureInfo.InvariantCulture,
        $"synthetic-v{SyntheticCorpus.GeneratorVersion}-seed{Seed}-fig{Figures}-gen{GeneralScenes}-px{ImageSize}-test{TestFraction:0.###}-chat{ChatEvalFigures}");
}

/// <summary>Where each file of a generated corpus lives, named after the released LLaVA-Med and VQA-RAD files.</summary>
public sealed record SyntheticCorpusLayout(string Root)
{
    public string Images => Path.Combine(Root, "images");
    public string Findings => Path.Combine(Root, "findings.json");
    public string Alignment => Path.Combine(Root, "alignment", "llava_med_alignment.json");
    public string InstructFigCaptions => Path.Combine(Root, "instruct", "llava_med_instruct_fig_captions.json");
    public string VqaTrain => Path.Combine(Root, "vqa", "trainset.json");
    public string VqaTest => Path.Combine(Root, "vqa", "testset.json");
    public string ChatEval => Path.Combine(Root, "eval", "llava_med_eval_qa50_qa.jsonl");
    public string GeneralImages => Path.Combine(Root, "general", "images");
    public string GeneralScenes => Path.Combine(Root, "general", "scenes.json");
    public string GeneralAlignment => Path.Combine(Root, "general", "alignment.json");
    public string GeneralInstruct => Path.Combine(Root, "general", "instruct.json");
    public string Manifest => Path.Combine(Root, "manifest.json");

    public IReadOnlyList<FindingRecord> ReadFindings() => FindingRecord.ReadAll(Findings);
}

/// <summary>How far generation is: <paramref name="Stage"/> is "figures", "scenes" or "writing".</summary>
public sealed record SyntheticProgress(string Stage, int Done, int Total);

/// <summary>One written file and how many records (or images) it holds.</summary>
public sealed record SyntheticFile(string RelativePath, int Records, string Description);

public sealed record SyntheticCorpusSummary(SyntheticCorpusLayout Layout, IReadOnlyList<SyntheticFile> Files, TimeSpan Elapsed, bool FromCache);

/// <summary>The built-in corpus: synthetic biomedical figures with captions, inline mentions, VQA and chat
/// evaluation questions, plus a general-domain companion set, written in the real data sets' formats.</summary>
public static class SyntheticCorpus
{
    /// <summary>Bump whenever the output for a given seed changes; it is part of the cache key.</summary>
    public const int GeneratorVersion = 1;

    static readonly string[] AlignmentInstructions =
    [
        "Describe the image concisely.", "Give a short description of this figure.", "What does this image show? Answer briefly.",
        "Write a one-sentence caption for the figure.", "Summarize the content of this biomedical image.",
        "Provide a brief caption for the image.", "Briefly explain what is shown in the picture.",
    ];

    static readonly string[] GeneralInstructions =
    [
        "Describe the image concisely.", "Write a short caption for this picture.", "What is in this image? Answer briefly.",
        "Give a brief description of the scene.",
    ];

    static readonly JsonSerializerOptions Json = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    static readonly JsonSerializerOptions JsonLine = new(Json) { WriteIndented = false };

    /// <summary>Returns the corpus for <paramref name="options"/> under <paramref name="cacheFolder"/>, generating it
    /// first when absent. Generation writes to a temporary sibling folder that is renamed when complete, so an
    /// interrupted run never leaves a half corpus behind.</summary>
    public static SyntheticCorpusSummary EnsureGenerated(string cacheFolder, SyntheticCorpusOptions options, IProgress<SyntheticProgress>? progress = null)
    {
        options.Validate();
        var layout = new SyntheticCorpusLayout(Path.Combine(cacheFolder, options.CacheKey));
        if (File.Exists(layout.Manifest)) return ReadSummary(layout);
        Directory.CreateDirectory(cacheFolder);
        var temporary = Path.Combine(cacheFolder, $"{options.CacheKey}.partial-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            var summary = Generate(temporary, options, progress);
            try
            {
                Directory.Move(temporary, layout.Root);
            }
            catch (IOException) when (File.Exists(layout.Manifest))
            {
                // Another process finished the same corpus first; theirs is identical.
                return ReadSummary(layout);
            }
            return summary with { Layout = layout };
        }
        finally
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
    }

    static SyntheticCorpusSummary ReadSummary(SyntheticCorpusLayout layout)
    {
        var manifest = JsonNode.Parse(File.ReadAllText(layout.Manifest))!;
        var files = manifest["files"]!.AsArray().Select(f => new SyntheticFile(f!["relative_path"]!.GetValue<string>(),
            f["records"]!.GetValue<int>(), f["description"]!.GetValue<string>())).ToList();
        return new SyntheticCorpusSummary(layout, files, TimeSpan.Zero, FromCache: true);
    }

    sealed record FigureOutput(FindingRecord Record, string Caption, IReadOnlyList<InlineMention> Mentions, string Instruction,
                               bool ImageFirst, IReadOnlyList<VqaRadRecord> Questions, string Description);

    /// <summary>Writes the whole corpus into <paramref name="folder"/> (created; existing files are overwritten).
    /// The same options give byte-identical files: each figure and scene draws from its own seeded generator.</summary>
    public static SyntheticCorpusSummary Generate(string folder, SyntheticCorpusOptions options, IProgress<SyntheticProgress>? progress = null)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        var layout = new SyntheticCorpusLayout(folder);
        Directory.CreateDirectory(layout.Images);
        Directory.CreateDirectory(layout.GeneralImages);
        foreach (var file in new[] { layout.Alignment, layout.InstructFigCaptions, layout.VqaTrain, layout.ChatEval })
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);

        var figures = new FigureOutput[options.Figures];
        var done = 0;
        Parallel.For(0, options.Figures, i =>
        {
            var text = SyntheticRandom.For(options.Seed, SyntheticRandom.FigureTextStream, i);
            var domain = (BiomedicalDomain)(i % DomainCatalog.Domains.Count);
            var record = FindingSampler.Sample(text, domain, i, IsTest(i, options.TestFraction) ? "test" : "train");
            figures[i] = new FigureOutput(record, FigureText.Caption(record, text), FigureText.InlineMentions(record, text),
                                          text.Pick(AlignmentInstructions), text.Chance(0.5), VqaQuestions.For(record, text),
                                          FigureText.DetailedDescription(record, text));
            var png = FigureRenderer.Render(record, options.ImageSize, SyntheticRandom.For(options.Seed, SyntheticRandom.FigureStream, i));
            File.WriteAllBytes(Path.Combine(layout.Images, record.Image), png);
            var finished = Interlocked.Increment(ref done);
            if (finished % 100 == 0 || finished == options.Figures) progress?.Report(new("figures", finished, options.Figures));
        });
        if (figures.Select(f => f.Record.PairId).Distinct().Count() != figures.Length)
            throw new InvalidOperationException("generated figure ids collide");

        var scenes = new (SceneRecord Scene, string Caption, string Instruction, bool ImageFirst, IReadOnlyList<ConversationTurn> Turns)[options.GeneralScenes];
        done = 0;
        Parallel.For(0, options.GeneralScenes, i =>
        {
            var text = SyntheticRandom.For(options.Seed, SyntheticRandom.SceneTextStream, i);
            var scene = GeneralScenes.Sample(text, i);
            scenes[i] = (scene, GeneralScenes.Caption(scene, text), text.Pick(GeneralInstructions), text.Chance(0.5), GeneralScenes.Conversation(scene, text));
            File.WriteAllBytes(Path.Combine(layout.GeneralImages, scene.Image),
                               GeneralScenes.Render(scene, options.ImageSize, SyntheticRandom.For(options.Seed, SyntheticRandom.SceneStream, i)));
            var finished = Interlocked.Increment(ref done);
            if (finished % 100 == 0 || finished == options.GeneralScenes) progress?.Report(new("scenes", finished, options.GeneralScenes));
        });

        progress?.Report(new("writing", 0, 1));
        var files = new List<SyntheticFile>();
        void Write(string path, JsonNode node, int records, string description)
        {
            File.WriteAllText(path, node.ToJsonString(Json) + "\n");
            files.Add(new SyntheticFile(Path.GetRelativePath(folder, path), records, description));
        }
        var train = figures.Where(f => f.Record.Split == "train").ToList();
        var test = figures.Where(f => f.Record.Split == "test").ToList();
        files.Add(new SyntheticFile("images/", figures.Length, $"{options.ImageSize} px PNG figures"));
        Write(layout.Findings, JsonSerializer.SerializeToNode(figures.Select(f => f.Record).ToList(), FindingRecord.Json)!,
              figures.Length, "finding records (ground truth of every figure)");
        Write(layout.Alignment, new JsonArray(train.Select(f => (JsonNode)Conversation(f.Record.PairId, f.Record.Image,
                  [ConversationTurn.Human(WithImage(f.Instruction, f.ImageFirst)), ConversationTurn.Gpt(f.Caption)])).ToArray()),
              train.Count, "stage-1 alignment pairs (train figures)");
        var byDomain = new JsonObject();
        foreach (var domain in DomainCatalog.Domains)
            byDomain[domain.FlagName] = new JsonArray(train.Where(f => f.Record.Domain == domain.Domain)
                .Select(f => (JsonNode)FigCaption(f)).ToArray());
        Write(layout.InstructFigCaptions, byDomain, train.Count, "self-instruct input: captions and inline mentions by domain (train figures)");
        var qid = 0;
        JsonArray Vqa(IEnumerable<FigureOutput> split) => new(split.SelectMany(f => f.Questions)
            .Select(q => JsonSerializer.SerializeToNode(q with { Qid = qid++ }, Json)).ToArray());
        var vqaTrain = Vqa(train);
        Write(layout.VqaTrain, vqaTrain, vqaTrain.Count, "VQA-RAD-schema questions on train figures");
        var vqaTest = Vqa(test);
        Write(layout.VqaTest, vqaTest, vqaTest.Count, "VQA-RAD-schema questions on held-out test figures");
        var chat = ChatEvaluation(test.Take(options.ChatEvalFigures)).ToList();
        File.WriteAllText(layout.ChatEval, string.Concat(chat.Select(line => line.ToJsonString(JsonLine) + "\n")));
        files.Add(new SyntheticFile(Path.GetRelativePath(folder, layout.ChatEval), chat.Count, "chat evaluation questions (held-out figures)"));

        files.Add(new SyntheticFile("general/images/", scenes.Length, $"{options.ImageSize} px PNG general scenes"));
        Write(layout.GeneralScenes, JsonSerializer.SerializeToNode(scenes.Select(s => s.Scene).ToList(), FindingRecord.Json)!,
              scenes.Length, "general scene records");
        Write(layout.GeneralAlignment, new JsonArray(scenes.Select(s => (JsonNode)Conversation(s.Scene.Id, s.Scene.Image,
                  [ConversationTurn.Human(WithImage(s.Instruction, s.ImageFirst)), ConversationTurn.Gpt(s.Caption)])).ToArray()),
              scenes.Length, "general caption pairs (LLaVA pretraining layout)");
        Write(layout.GeneralInstruct, new JsonArray(scenes.Select(s => (JsonNode)Conversation(s.Scene.Id, s.Scene.Image, s.Turns)).ToArray()),
              scenes.Length, "general conversations (LLaVA instruction layout)");

        // The manifest is written last: its presence marks a complete corpus.
        var manifest = new JsonObject
        {
            ["generator_version"] = GeneratorVersion,
            ["options"] = JsonSerializer.SerializeToNode(options, Json),
            ["files"] = JsonSerializer.SerializeToNode(files, Json),
        };
        File.WriteAllText(layout.Manifest, manifest.ToJsonString(Json) + "\n");
        progress?.Report(new("writing", 1, 1));
        return new SyntheticCorpusSummary(layout, files, clock.Elapsed, FromCache: false);
    }

    /// <summary>Figures come in groups of one per domain; whole groups go to test at an even stride starting with
    /// the first group (so even a tiny corpus has a test set), and every domain is held out equally.</summary>
    internal static bool IsTest(int figureIndex, double testFraction)
    {
        var group = figureIndex / DomainCatalog.Domains.Count;
        return testFraction > 0 && Math.Floor(group * testFraction) > Math.Floor((group - 1) * testFraction);
    }

    static string WithImage(string instruction, bool imageFirst)
        => imageFirst ? $"{LlavaTokenizer.ImagePlaceholder}\n{instruction}" : $"{instruction}\n{LlavaTokenizer.ImagePlaceholder}";

    static JsonObject Conversation(string id, string image, IReadOnlyList<ConversationTurn> turns)
        => new LlavaSample(id, image, turns).ToJson();

    static JsonObject DomainFlags(BiomedicalDomain domain)
    {
        var flags = new JsonObject();
        foreach (var spec in DomainCatalog.Domains) flags[spec.FlagName] = spec.Domain == domain;
        return flags;
    }

    static JsonNode? Mentions(IReadOnlyList<InlineMention> mentions) => mentions.Count == 0 ? null
        : new JsonArray(mentions.Select(m => (JsonNode)new JsonObject
        {
            ["tokens"] = m.Tokens,
            ["entities"] = new JsonArray(new JsonObject
            {
                ["type"] = "figure", ["entity_id"] = m.EntityId, ["start_tok"] = m.StartToken, ["end_tok"] = m.EndToken,
            }),
        }).ToArray());

    static JsonObject FigCaption(FigureOutput f) => new()
    {
        ["pair_id"] = f.Record.PairId,
        ["pmid"] = f.Record.Pmid,
        ["fig_id"] = f.Record.FigId,
        ["fig_label"] = f.Record.FigLabel,
        ["fig_caption"] = f.Caption,
        ["in_text_mention"] = Mentions(f.Mentions),
        ["domain"] = DomainFlags(f.Record.Domain),
    };

    static IEnumerable<JsonObject> ChatEvaluation(IEnumerable<FigureOutput> figures)
    {
        var questionId = 0;
        foreach (var f in figures)
        {
            var asked = FigureText.ConversationQuestions(f.Record).Select(q => (q.Question, q.Answer, Type: "conversation"))
                .Append(("Describe the following image in detail", f.Description, "detailed_description"));
            foreach (var (question, answer, type) in asked)
                yield return new JsonObject
                {
                    ["question_id"] = questionId++,
                    ["image"] = f.Record.Image,
                    ["pair_id"] = f.Record.PairId,
                    ["text"] = $"{question}\n{LlavaTokenizer.ImagePlaceholder}",
                    ["gpt4_answer"] = answer,
                    ["fig_caption"] = f.Caption,
                    ["in_text_mention"] = Mentions(f.Mentions),
                    ["domain"] = DomainFlags(f.Record.Domain),
                    ["type"] = type,
                    ["fig_label"] = f.Record.FigLabel,
                };
        }
    }
}
