using System.Text.Json.Nodes;
using LlavaMed.Models;
using LlavaMed.Text;
using LlavaMed.Workbench;
using static TorchSharp.torch;

namespace LlavaMed.Checkpoints;

/// <summary>Bytes written so far while a checkpoint is written.</summary>
public sealed record CheckpointWriteProgress(long BytesWritten, long TotalBytes, string Tensor);

/// <summary>
/// Random-weight checkpoints shaped exactly like released models, written in their layout (sharded safetensors
/// with the released tensor names, index, config, tower folder, tokenizer files), so the real-size load and
/// inference paths can be measured without downloads. Written tensor by tensor at disk speed, never holding the
/// model: every weight repeats one block of normal(0, <see cref="WeightInitialization.InitializerRange"/>) draws
/// (drawing 7.5 B fresh values would take minutes and tells a benchmark nothing more), biases are zero and norm
/// scales one, as <see cref="WeightInitialization"/> starts them. The tokenizer is the demo's small SentencePiece
/// model (<see cref="DemoCheckpoint.CaptionSentences"/>); its ids fit any preset's vocabulary.
/// </summary>
public static class RandomCheckpoint
{
    public const int TokenizerVocabularySize = 512;
    const long BlockElements = 1 << 22;

    /// <summary>The shapes <c>--like</c> accepts.</summary>
    public static IReadOnlyDictionary<string, LlavaConfig> Presets { get; } = new Dictionary<string, LlavaConfig>
    {
        ["llava-med-v1.5-mistral-7b"] = LlavaConfig.LlavaMedV15Mistral7B,
        // LLaVA-Med v1.0 (LLaMA-7B, linear projector, <im_start>/<im_patch>/<im_end>, CLIP ViT-L/14 at 224 px read
        // from the tower folder); vocabulary 32,000 + [PAD] + three image tokens.
        ["llava-med-v1.0-7b"] = new LlavaConfig
        {
            ModelType = "llava", VocabSize = 32004, IntermediateSize = 11008, NumKeyValueHeads = 32,
            MaxPositionEmbeddings = 2048, RmsNormEps = 1e-6, RopeTheta = 10000, PadTokenId = 0,
            MmProjectorType = "linear", MmVisionTower = "openai/clip-vit-large-patch14", MmUseImStartEnd = true,
            ImageAspectRatio = "square", TokenizerModelMaxLength = 2048, Vision = new ClipVisionConfig { ImageSize = 224 },
        },
        ["demo"] = TinyModels.Demo(TokenizerVocabularySize),
    };

    /// <summary>Writes the checkpoint to <paramref name="folder"/> (created; weight files of an earlier save are
    /// replaced). v1.0 models (<c>model_type llava</c>) get their CLIP tensors in <c>vision_tower/</c>, as released.</summary>
    public static void Write(LlavaConfig config, ScalarType dtype, string folder, ulong seed = 0,
                             IProgress<CheckpointWriteProgress>? progress = null)
    {
        Directory.CreateDirectory(folder);
        SentencePieceTrainer.Train(DemoCheckpoint.CaptionSentences(), TokenizerVocabularySize).WriteTokenizerFolder(folder);
        if (config.ModelType == "llava")
            AtomicFile.WriteText(Path.Combine(folder, "added_tokens.json"), new JsonObject
            {
                ["[PAD]"] = TokenizerVocabularySize, ["<im_patch>"] = TokenizerVocabularySize + 1,
                ["<im_start>"] = TokenizerVocabularySize + 2, ["<im_end>"] = TokenizerVocabularySize + 3,
            }.ToJsonString());

        List<(string Name, long[] Shape)> shapes;
        using (var meta = new LlavaForCausalLM(config, new ParameterPlacement(dtype, META)))
            shapes = meta.state_dict().Select(p => (p.Key, p.Value.shape)).ToList();
        var towerInOwnFolder = config.ModelType == "llava";
        bool InTower(string name) => towerInOwnFolder && name.StartsWith(CheckpointLoader.TowerPrefix, StringComparison.Ordinal);

        var safetensorsDtype = SafetensorsDtypes.FromScalarType(dtype);
        byte[] block, one;
        using (var generator = new Generator(seed))
        using (var values = empty([BlockElements], dtype))
        using (no_grad())
        {
            values.normal_(0, WeightInitialization.InitializerRange, generator); // as WeightInitialization draws
            block = values.bytes.ToArray();
        }
        using (var unit = ones(1, dtype)) one = unit.bytes.ToArray();

        long total = shapes.Sum(s => s.Shape.Aggregate(1L, (a, b) => a * b) * safetensorsDtype.ElementSize()), written = 0;
        SafetensorsEntry Entry(string name, string headerName, long[] shape) => new(headerName, safetensorsDtype, shape, stream =>
        {
            var length = shape.Aggregate(1L, (a, b) => a * b) * safetensorsDtype.ElementSize();
            if (name.EndsWith(".bias", StringComparison.Ordinal)) WriteRepeated(stream, new byte[one.Length], length);
            else if (WeightInitialization.IsNormScale(name)) WriteRepeated(stream, one, length);
            else WriteRepeated(stream, block, length);
            written += length;
            progress?.Report(new CheckpointWriteProgress(written, total, name));
        });

        CheckpointTensors.Save(folder, shapes.Where(s => !InTower(s.Name)).Select(s => Entry(s.Name, s.Name, s.Shape)).ToArray());
        CheckpointWriter.WriteFolderFiles(config, dtype, shapes.Sum(s => s.Shape.Aggregate(1L, (a, b) => a * b)), folder,
            extraMeta: new JsonObject { ["kind"] = "random weights (checkpoint random)", ["seed"] = seed });
        if (towerInOwnFolder)
            CheckpointTensors.Save(Path.Combine(folder, CheckpointWriter.VisionTowerFolderName), shapes.Where(s => InTower(s.Name))
                .Select(s => Entry(s.Name, s.Name[CheckpointLoader.TowerPrefix.Length..], s.Shape)).ToArray());
    }

    static void WriteRepeated(Stream stream, byte[] pattern, long length)
    {
        for (long done = 0; done < length; done += pattern.Length)
            stream.Write(pattern, 0, (int)Math.Min(pattern.Length, length - done));
    }
}
