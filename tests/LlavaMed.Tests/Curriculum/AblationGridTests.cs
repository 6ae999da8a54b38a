using System.Text.Json.Nodes;
using LlavaMed.Curriculum;
using LlavaMed.Data;
using LlavaMed.Data.SelfInstruct;
using LlavaMed.Data.Synthetic;
using LlavaMed.Images;
using LlavaMed.Workbench;

namespace LlavaMed.Tests.Curriculum;

public sealed class AblationGridTests
{
    static string PaperGridPath => Path.Combine(WorkbenchPaths.FindRepositoryRoot(AppContext.BaseDirectory)!, "data", "ablations", "paper-grid.json");

    static DataFormatException Invalid(string json) => Assert.Throws<DataFormatException>(() => AblationGrid.Parse(json, "grid.json"));

    [Fact]
    public void ThePaperGridHasOneVariantPerAblationRowEachChangingOneAxis()
    {
        var grid = AblationGrid.Load(PaperGridPath);

        Assert.Equal(AblationGrid.FullScale, grid.Scale);
        Assert.Equal(CurriculumScale.Full, grid.BaseScale);
        Assert.Equal(["default", "stage1-0ep", "stage1-1ep", "stage1-3ep", "instruct-10k", "instruct-60k-im", "resolution-1.5x", "projector-linear", "from-bare-lm"],
                     grid.Variants.Select(v => v.Name));
        Assert.Empty(grid.Variants[0].Axes);
        Assert.All(grid.Variants.Skip(1), v => Assert.Single(v.Axes));
        Assert.Equal(CurriculumVariant.AllAxes, grid.Variants.SelectMany(v => v.Axes).Distinct());
        Assert.Equal([0, 1, 3], grid.Variants.Where(v => v.Stage1Epochs is not null).Select(v => v.Stage1Epochs!.Value));
        Assert.Equal(StartingPoint.BareLanguageModel, grid.Variants[^1].Start);
        grid.Validate(CurriculumScale.Full);
        grid.Validate(CurriculumScale.QuickRun);
    }

    [Fact]
    public void DefaultsAndOverridesAreRead()
    {
        var grid = AblationGrid.Parse("""
            { "variants": [ { "name": "a" },
                            { "name": "b", "label": "B", "stage1_epochs": 0, "inline_mentions": true, "instruction_fraction": 0.5,
                              "image_size_factor": 2, "projector": "linear", "start": "bare-lm" } ] }
            """, "grid.json");

        Assert.Equal((AblationGrid.FullScale, 0), (grid.Scale, grid.Seed));
        Assert.Equal(CurriculumVariant.Default with { Name = "a" }, grid.Variants[0]);
        var b = grid.Variants[1];
        Assert.Equal((0, true, 0.5, 2.0, "linear", StartingPoint.BareLanguageModel, "B"),
                     (b.Stage1Epochs, b.InlineMentions, b.InstructionFraction, b.ImageSizeFactor, b.ProjectorType, b.Start, b.DisplayLabel));
        Assert.Equal(b, AblationGrid.VariantFromJson(AblationGrid.VariantToJson(b), "x", "y"));
        Assert.Equal("""{"name":"a"}""", AblationGrid.VariantToJson(grid.Variants[0]).ToJsonString());
    }

    [Theory]
    [InlineData("""{"variants": [{"name": "a", "stage1_epoch": 1}]}""", "variants[0].stage1_epoch", "unknown field 'stage1_epoch'")]
    [InlineData("""{"variants": [{"name": "a"}], "seeed": 1}""", "seeed", "unknown field")]
    [InlineData("""{"variants": [{"name": "a", "stage1_epochs": "three"}]}""", "variants[0].stage1_epochs", "whole number")]
    [InlineData("""{"variants": [{"name": "a", "stage1_epochs": 1.5}]}""", "variants[0].stage1_epochs", "whole number")]
    [InlineData("""{"variants": [{"name": "a", "stage1_epochs": -1}]}""", "variants[0].stage1_epochs", "0 (skip stage 1) or more")]
    [InlineData("""{"variants": [{"name": "a"}, {"name": "b", "inline_mentions": "yes"}]}""", "variants[1].inline_mentions", "true or false")]
    [InlineData("""{"variants": [{"name": "a", "instruction_fraction": 0}]}""", "variants[0].instruction_fraction", "above 0")]
    [InlineData("""{"variants": [{"name": "a", "projector": "mlp"}]}""", "variants[0].projector", "unknown projector 'mlp'")]
    [InlineData("""{"variants": [{"name": "a", "start": "vicuna"}]}""", "variants[0].start", "\"bare-lm\"")]
    [InlineData("""{"variants": [{"name": "../up"}]}""", "variants[0].name", "cannot name a folder")]
    [InlineData("""{"variants": [{"name": "starting-models"}]}""", "variants[0].name", "cannot name a folder")]
    [InlineData("""{"variants": [{"label": "x"}]}""", "variants[0].name", "every variant needs a name")]
    [InlineData("""{"variants": [{"name": "a"}, {"name": "A"}]}""", "variants[1].name", "used twice")]
    [InlineData("""{"variants": []}""", "variants", "non-empty array")]
    [InlineData("""{"scale": "medium", "variants": [{"name": "a"}]}""", "scale", "\"quick\" or \"full\"")]
    [InlineData("""{"variants": [{"name": "a"}""", "line 1", "invalid JSON")]
    [InlineData("""[{"name": "a"}]""", "top level", "JSON object")]
    public void ProblemsNameTheFileAndTheField(string json, string field, string problem)
    {
        var error = Invalid(json);

        Assert.Equal("grid.json", error.Path);
        Assert.Equal(field, error.Location);
        Assert.Contains(problem, error.Problem);
        Assert.StartsWith($"grid.json:{field}: ", error.Message);
    }

    [Fact]
    public void AnImageSizeFactorThatMissesThePatchGridIsRefusedBeforeAnythingRuns()
    {
        var grid = AblationGrid.Parse("""{"scale": "quick", "variants": [{"name": "ok", "image_size_factor": 1.5}, {"name": "odd", "image_size_factor": 1.1}]}""", "grid.json");

        var error = Assert.Throws<DataFormatException>(() => grid.Validate(grid.BaseScale));
        Assert.Equal("variants[1].image_size_factor", error.Location);
        Assert.Contains("patch size 14", error.Problem);
    }

    [Fact]
    public void SelectingUnknownVariantsListsTheGridsNames()
    {
        var grid = AblationGrid.Parse("""{"variants": [{"name": "a"}, {"name": "b"}]}""", "grid.json");

        Assert.Equal(["b"], grid.VariantsNamed(["b"]).Select(v => v.Name));
        Assert.Equal(2, grid.VariantsNamed(null).Count);
        var error = Assert.Throws<ArgumentException>(() => grid.VariantsNamed(["b", "c"]));
        Assert.Contains("grid.json has no variant 'c' (it has a, b)", error.Message);
    }
}

public sealed class CurriculumVariantTests
{
    static readonly SyntheticCorpusLayout Corpus = new("/corpus");

    static IReadOnlyList<LlavaMed.Training.TrainingStage> Stages(CurriculumScale scale) =>
        CurriculumRun.ChainedStages(scale, 0, Corpus, "/data/instruct.json", "/data/train.json", "/images", "/start", "/out").ToList();

    [Fact]
    public void TheDefaultVariantLeavesTheScaleAlone()
    {
        Assert.Equal(CurriculumScale.Full, CurriculumVariant.Default.Apply(CurriculumScale.Full));
        Assert.Equal(CurriculumScale.QuickRun, CurriculumVariant.Default.Apply(CurriculumScale.QuickRun));
        Assert.Equal(CurriculumScale.Full, new CurriculumOptions { OutputDir = "x" }.Scale);
        Assert.Equal(CurriculumScale.QuickRun, new CurriculumOptions { OutputDir = "x", Quick = true }.Scale);
        Assert.Equal("the default curriculum", CurriculumVariant.Default.Describe(CurriculumScale.Full));
        Assert.Equal("mlp2x_gelu", CurriculumScale.Full.ModelConfig(100).MmProjectorType);
    }

    [Fact]
    public void Stage1EpochsSetTheAlignmentStageAndZeroSkipsIt()
    {
        var three = Stages(new CurriculumVariant { Stage1Epochs = 3 }.Apply(CurriculumScale.Full));
        Assert.Equal(PaperStages.Names, three.Select(s => s.Name));
        Assert.Equal(3, three[0].Epochs);
        Assert.Equal(CurriculumScale.Full.InstructionEpochs, three[1].Epochs);

        var skipped = Stages(new CurriculumVariant { Stage1Epochs = 0 }.Apply(CurriculumScale.Full));
        Assert.Equal(["instruction", "downstream"], skipped.Select(s => s.Name));
        Assert.Equal("/start", skipped[0].InitFrom);
    }

    [Fact]
    public void ResolutionScalesTheCorpusAndTheTowerInputAndKeepsThePatchSize()
    {
        var variant = new CurriculumVariant { Name = "hi", ImageSizeFactor = 1.5 };

        var quick = variant.Apply(CurriculumScale.QuickRun);
        Assert.Equal((84, 14, 168), (quick.ImageSize, quick.PatchSize, quick.Corpus.ImageSize));
        var full = variant.Apply(CurriculumScale.Full);
        Assert.Equal((168, 28, 168), (full.ImageSize, full.PatchSize, full.Corpus.ImageSize));
        Assert.Equal(168, full.ModelConfig(100).Vision.ImageSize);
        Assert.Equal([CurriculumVariant.ResolutionAxis], variant.Axes);
        Assert.Contains("images 168 px (patch 28; corpus rendered at 168 px)", variant.Describe(CurriculumScale.Full));
        var error = Assert.Throws<ArgumentException>(() => (variant with { ImageSizeFactor = 1.1 }).Apply(CurriculumScale.QuickRun));
        Assert.Contains("61.6 px", error.Message);
    }

    [Fact]
    public void ProjectorAndStartAreCarriedToTheModelAndTheStartingCheckpoint()
    {
        var linear = new CurriculumVariant { ProjectorType = "linear" }.Apply(CurriculumScale.QuickRun);
        Assert.Equal("linear", linear.ModelConfig(100).MmProjectorType);

        Assert.Equal(Path.Combine("b", "model"), StartingModelBuilder.ModelFolder("b", StartingPoint.General));
        Assert.Equal(Path.Combine("b", "pretrained"), StartingModelBuilder.ModelFolder("b", StartingPoint.BareLanguageModel));
        var bare = new CurriculumVariant { Start = StartingPoint.BareLanguageModel };
        Assert.Equal(CurriculumScale.Full, bare.Apply(CurriculumScale.Full));
        Assert.Contains("from Vicuna", bare.Describe(CurriculumScale.Full));
    }

    [Fact]
    public void TheStartingModelKeyChangesWithWhatTheBuildReadsOnlyAndTheRunStampWithEverySetting()
    {
        var scale = CurriculumScale.QuickRun;
        var key = StartingModelBuilder.Key(scale, 0);

        // Variants that change only what happens after the starting model share it.
        foreach (var variant in new[]
                 {
                     new CurriculumVariant { Stage1Epochs = 0 }, new CurriculumVariant { InlineMentions = true },
                     new CurriculumVariant { InstructionFraction = 0.2 }, new CurriculumVariant { Start = StartingPoint.BareLanguageModel },
                 })
            Assert.Equal(key, StartingModelBuilder.Key(variant.Apply(scale), 0));
        Assert.NotEqual(key, StartingModelBuilder.Key(new CurriculumVariant { ImageSizeFactor = 1.5 }.Apply(scale), 0));
        Assert.NotEqual(key, StartingModelBuilder.Key(new CurriculumVariant { ProjectorType = "linear" }.Apply(scale), 0));
        Assert.NotEqual(key, StartingModelBuilder.Key(scale, 1));
        Assert.StartsWith("px56-mlp2x_gelu-seed0-", key.FolderName);
        Assert.Matches("^[a-z0-9_.-]+$", key.FolderName);

        // Every setting of the scale either changes the key or is one the build never reads (a new setting must be
        // classified here, so that the key cannot silently miss it).
        string[] afterTheStartingModel = ["Name", "AlignmentEpochs", "InstructionEpochs", "DownstreamEpochs", "VqaTestQuestions", "CaptionFigures", "ChatQuestions",
                                          "AlignmentStage", "InstructionStage", "DownstreamStage"];
        foreach (var property in typeof(CurriculumScale).GetProperties().Where(p => p.CanWrite))
        {
            var changed = scale with { };
            object value = property.PropertyType == typeof(int) ? (int)property.GetValue(scale)! + 1
                : property.PropertyType == typeof(string) ? property.GetValue(scale) + "x"
                : property.PropertyType == typeof(double) ? (double)property.GetValue(scale)! * 2
                : property.PropertyType == typeof(StageScale) ? (StageScale)property.GetValue(scale)! with { BatchSize = ((StageScale)property.GetValue(scale)!).BatchSize + 1 }
                : property.PropertyType == typeof(PixelAugmentation) ? scale.VisionAugmentation with { Jitter = scale.VisionAugmentation.Jitter + 0.1 }
                : scale.Corpus with { Figures = scale.Corpus.Figures + 1 };
            property.SetValue(changed, value);
            Assert.True(afterTheStartingModel.Contains(property.Name) == (StartingModelBuilder.Key(changed, 0) == key), property.Name);
            // A finished variant is reused only when every setting is the same.
            Assert.NotEqual(AblationRunner.Stamp(CurriculumVariant.Default, scale, 0).ToJsonString(),
                            AblationRunner.Stamp(CurriculumVariant.Default, changed, 0).ToJsonString());
        }

        // Builds and runs of other code are never reused (a build from a clone stamps its commit into the version).
        Assert.Matches(@"^\d+\.\d+\.\d+(\+[0-9a-f]{40})?$", CodeVersion.Current);
        Assert.EndsWith($"; code {CodeVersion.Current}", key.Settings);
        Assert.Equal(CodeVersion.Current, AblationRunner.Stamp(CurriculumVariant.Default, scale, 0)["code_version"]!.GetValue<string>());
        // Nor a variant trained in another dtype.
        Assert.NotEqual(AblationRunner.Stamp(CurriculumVariant.Default, scale, 0).ToJsonString(),
                        AblationRunner.Stamp(CurriculumVariant.Default, scale, 0,
                            new LlavaMed.Checkpoints.LoadOptions { Dtype = TorchSharp.torch.ScalarType.BFloat16 }).ToJsonString());
    }

    [Fact]
    public void TheFindingsWriterAddsATurnFromInlineMentionsOnlyWhenTheRequestShowsThem()
    {
        var findings = FindingSamplerFixture();
        var writer = new FindingConversationWriter(findings);
        var figure = new FigureCaptionRecord(findings[0].PairId, "Fig. 1", "An x-ray.",
            ["A large nodule was present in the right upper lobe ( Fig. 1 ) ."]);

        var without = writer.Write(figure with { InTextMentions = [] });
        var with = writer.Write(figure);

        Assert.Equal(FindingConversationWriter.Write(findings[0]), without);
        Assert.Equal(without, with.Take(without.Count));
        Assert.Equal(new ConversationPair("Is there anything else worth noting in the image?", "A large nodule was present in the right upper lobe."), with[^1]);
    }

    static IReadOnlyList<FindingRecord> FindingSamplerFixture()
    {
        var folder = Directory.CreateTempSubdirectory("llava-findings-");
        try
        {
            var corpus = SyntheticCorpus.Generate(folder.FullName, new SyntheticCorpusOptions(Figures: 3, GeneralScenes: 0, ChatEvalFigures: 0));
            return corpus.Layout.ReadFindings();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
