using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;
using LlavaMed.Data;
using LlavaMed.Data.Synthetic;
using LlavaMed.Images;
using LlavaMed.Models;
using LlavaMed.Text;
using LlavaMed.Training;
using LlavaMed.Workbench;

namespace LlavaMed.Curriculum;

/// <summary>Builds the general-domain starting model the curriculum begins from, as LLaVA-Med begins from a
/// general LLaVA: (1) a SentencePiece tokenizer trained on the corpus text; (2) a vision tower pretrained on
/// image-caption pairs (the general scenes and the training figures' captions, as BiomedCLIP and PMC-CLIP
/// pretrain on figure-caption pairs: LLaVA-Med keeps the tower frozen, so it must already see organs, findings,
/// sides, sizes and counts); (3) the language model pretrained on text alone (general captions and conversations,
/// the training figures' captions); (4) LLaVA's own two stages on the general scenes: projector alignment on
/// captions, then instruction tuning on conversations. The result is a Hugging Face checkpoint
/// (<c>{folder}/model</c>) that the curriculum loads exactly as it would load a released LLaVA.</summary>
public static class StartingModelBuilder
{
    public const string ModelFolderName = "model";

    /// <summary>The pretrained tower and language model with an untrained projector: the start "from the bare
    /// language model" (<see cref="StartingPoint.BareLanguageModel"/>).</summary>
    public const string PretrainedFolderName = "pretrained";

    /// <summary>The checkpoint in a build folder that a curriculum starting at <paramref name="start"/> loads.</summary>
    public static string ModelFolder(string buildFolder, StartingPoint start) =>
        Path.Combine(buildFolder, start == StartingPoint.General ? ModelFolderName : PretrainedFolderName);

    /// <summary>Whether <paramref name="buildFolder"/> holds a finished build (the general model is written last,
    /// its weights last of all).</summary>
    public static bool IsBuilt(string buildFolder) => CurriculumRun.HasModel(Path.Combine(buildFolder, ModelFolderName));

    /// <summary>Everything <see cref="Build"/> depends on (the corpus, the tokenizer size, the model's shape and
    /// projector, the pretraining and general-stage epochs, the seed, the code version) and nothing else, so that curricula which
    /// differ only after the starting model (stage epochs, instruction data, starting point) share one build.</summary>
    public static StartingModelKey Key(CurriculumScale scale, int seed) => new(string.Create(CultureInfo.InvariantCulture,
        $"corpus {(scale.Corpus with { Seed = seed }).CacheKey}; vocabulary {scale.VocabularySize}; decoder {scale.HiddenSize}x{scale.Layers}; "
        + $"tower {scale.VisionHidden}x{scale.VisionLayers}, {scale.ImageSize} px / patch {scale.PatchSize}; projector {scale.ProjectorType}; "
        + $"vision batch {scale.VisionBatchSize}, augmentation shift {scale.VisionAugmentation.MaxShiftFraction} jitter {scale.VisionAugmentation.Jitter}; "
        + $"epochs vision {scale.VisionEpochs}, language {scale.LanguageEpochs}, general alignment {scale.GeneralAlignmentEpochs}, "
        + $"general instruction {scale.GeneralInstructionEpochs}; pretraining vision {scale.VisionPretraining}, language {scale.LanguagePretraining} "
        + $"max length {scale.LanguageMaxLength}; general stages {scale.GeneralAlignmentStage}, {scale.GeneralInstructionStage}; "
        + $"seed {seed}; code {CodeVersion.Current}"), scale.ImageSize, scale.ProjectorType, seed);

    /// <summary>Builds into <paramref name="folder"/> (tokenizer/, pretrained/, general-alignment/, model/).
    /// Deterministic: the same corpus, scale and seed give byte-identical weights.</summary>
    public static void Build(SyntheticCorpusLayout corpus, CurriculumScale scale, int seed, string folder, IProgress<TrainingProgress>? progress = null)
    {
        void Say(string phase, string message) => progress?.Report(TrainingProgress.Note(phase, message));
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        var tokenizerFolder = Path.Combine(folder, "tokenizer");
        var sentences = TokenizerSentences(corpus);
        SentencePieceTrainer.Train(sentences, scale.VocabularySize, new SentencePieceTrainerOptions(CharacterCoverage: 1.0))
            .WriteTokenizerFolder(tokenizerFolder, modelMaxLength: 512);
        var tokenizer = LlavaTokenizer.FromFolder(tokenizerFolder);
        Say("tokenizer", $"SentencePiece tokenizer: {tokenizer.VocabularySize} pieces from {sentences.Count} corpus sentences");

        var config = scale.ModelConfig(tokenizer.VocabularySize);
        var processorConfig = ImageProcessorConfig.ClipVitLarge336 with
        {
            ShortestEdge = config.Vision.ImageSize, CropHeight = config.Vision.ImageSize, CropWidth = config.Vision.ImageSize,
        };
        var processor = new ClipImageProcessor(processorConfig, ImageAspectModes.FromConfigValue(config.ImageAspectRatio));
        var pretrained = Path.Combine(folder, "pretrained");
        using (var model = new LlavaForCausalLM(config))
        {
            WeightInitialization.Initialize(model, (ulong)seed);
            var pairs = VisionPairs(corpus);
            Say("vision", $"vision tower: caption-word pretraining on {pairs.Count} image-caption pairs, {scale.VisionEpochs} "
                          + $"epochs{(scale.VisionAugmentation.IsNone ? "" : ", images shifted and jittered")}");
            Pretraining.VisionTower(model, processor, tokenizer, pairs, scale.VisionPretraining, seed, scale.VisionAugmentation, progress);
            var texts = LanguageTexts(corpus);
            Say("language", $"language model: next-token pretraining on {texts.Count} texts, {scale.LanguageEpochs} epochs");
            Pretraining.LanguageModel(model, tokenizer, texts, scale.LanguagePretraining, scale.LanguageMaxLength, seed, progress);
            CheckpointWriter.Save(model, pretrained, tokenizerFolder, processorConfig, new JsonObject
            {
                ["kind"] = "curriculum starting model (pretrained tower and language model, projector untrained)", ["seed"] = seed,
            });
        }

        var generalAlignment = Path.Combine(folder, "general-alignment");
        var alignment = scale.GeneralAlignmentStage.Apply(
            PaperStages.Alignment(corpus.GeneralAlignment, corpus.GeneralImages, pretrained, generalAlignment), scale.GeneralAlignmentEpochs, seed) with
        {
            Name = "general-alignment",
        };
        new StageTrainer().Run(alignment, progress);
        var instruction = scale.GeneralInstructionStage.Apply(
            PaperStages.Instruction(corpus.GeneralInstruct, corpus.GeneralImages, generalAlignment, Path.Combine(folder, ModelFolderName)),
            scale.GeneralInstructionEpochs, seed) with
        {
            Name = "general-instruction",
        };
        new StageTrainer().Run(instruction, progress);
    }

    /// <summary>Every text the curriculum trains on or asks: captions, conversations, VQA questions and answers (train
    /// split) and the truth-based conversations of the training figures. Questions are wrapped as the instruction
    /// template wraps them (<c>[INST] ... [/INST]</c>), so that its markers are learned as pieces rather than read as a
    /// dozen characters around every question.</summary>
    internal static IReadOnlyList<string> TokenizerSentences(SyntheticCorpusLayout corpus)
    {
        static string Prompt(string question) => ConversationTemplate.MistralInstruct.Render([ChatMessage.User(question)]);
        static string Text(string value) => value.Replace(LlavaTokenizer.ImagePlaceholder, "").Trim();
        var sentences = new List<string>();
        foreach (var file in new[] { corpus.Alignment, corpus.GeneralAlignment, corpus.GeneralInstruct })
            sentences.AddRange(LlavaSample.ReadJsonArray(file).SelectMany(s => s.Conversations)
                .Select(t => t.From == ConversationTurn.HumanSpeaker && file == corpus.GeneralInstruct ? Prompt(Text(t.Value)) : Text(t.Value)));
        foreach (var question in VqaRad.Read(corpus.VqaTrain))
        {
            sentences.Add(Prompt(question.Question));
            sentences.Add(question.Answer);
        }
        foreach (var record in corpus.ReadFindings().Where(f => f.Split == "train"))
            foreach (var pair in FindingConversationWriter.Write(record))
            {
                sentences.Add(Prompt(pair.Question));
                sentences.Add(pair.Answer);
            }
        return sentences;
    }

    internal static IReadOnlyList<ImageCaption> VisionPairs(SyntheticCorpusLayout corpus) =>
        LlavaSample.ReadJsonArray(corpus.GeneralAlignment).Select(s => new ImageCaption(Path.Combine(corpus.GeneralImages, s.Image!), s.Answer))
            .Concat(LlavaSample.ReadJsonArray(corpus.Alignment).Select(s => new ImageCaption(Path.Combine(corpus.Images, s.Image!), s.Answer)))
            .ToList();

    internal static IReadOnlyList<string> LanguageTexts(SyntheticCorpusLayout corpus) =>
        LlavaSample.ReadJsonArray(corpus.GeneralAlignment).Select(s => s.Answer)
            .Concat(LlavaSample.ReadJsonArray(corpus.GeneralInstruct)
                .Select(s => string.Join(" ", s.Conversations.Select(t => t.Value.Replace(LlavaTokenizer.ImagePlaceholder, "").Trim()))))
            .Concat(LlavaSample.ReadJsonArray(corpus.Alignment).Select(s => s.Answer))
            .ToList();
}

/// <summary>What a starting model is built from (<see cref="StartingModelBuilder.Key"/>): its settings in words, and a
/// folder name made of the image size, projector and seed and a hash of the settings.</summary>
public sealed record StartingModelKey(string Settings, int ImageSize, string ProjectorType, int Seed)
{
    public string FolderName => string.Create(CultureInfo.InvariantCulture,
        $"px{ImageSize}-{ProjectorType}-seed{Seed}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Settings)))[..12]}");
}
