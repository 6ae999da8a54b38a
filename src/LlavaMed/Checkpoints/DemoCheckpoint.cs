using System.Text.Json.Nodes;
using LlavaMed.Models;
using LlavaMed.Text;
using LlavaMed.Workbench;
using SkiaSharp;
using static TorchSharp.torch;

namespace LlavaMed.Checkpoints;

/// <summary>A small random-weight LLaVA-Med v1.5 checkpoint the workbench builds for itself when no downloaded
/// or shared one exists: a SentencePiece tokenizer trained on generated caption sentences, a Mistral-style
/// decoder with an mlp2x_gelu projector and a CLIP tower, written in the released layout, plus a rendered
/// radiograph-like image to ask about. Deterministic: the same seed gives the same files.</summary>
public sealed record DemoCheckpoint(string ModelFolder, string ImagePath)
{
    public const int Seed = 20231;
    const int VocabularySize = 512;

    public static DemoCheckpoint EnsureCreated(string folder, Action<string>? progress = null)
    {
        var demo = new DemoCheckpoint(folder, Path.Combine(folder, "demo-chest-xray.png"));
        if (File.Exists(Path.Combine(folder, CheckpointWriter.MetaFileName)) && File.Exists(demo.ImagePath)) return demo;
        progress?.Invoke($"creating the demo checkpoint in {folder} (once)");
        var staging = folder + ".partial";
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);
        SentencePieceTrainer.Train(CaptionSentences(), VocabularySize).WriteTokenizerFolder(staging);
        var tokenizer = LlavaTokenizer.FromFolder(staging);
        using (var scope = NewDisposeScope())
        {
            using var model = new LlavaForCausalLM(TinyModels.Demo(tokenizer.VocabularySize));
            WeightInitialization.Initialize(model, Seed);
            CheckpointWriter.Save(model, staging, extraMeta: new JsonObject
            {
                ["kind"] = "demo (random weights)",
                ["seed"] = Seed,
            });
        }
        WriteDemoImage(Path.Combine(staging, Path.GetFileName(demo.ImagePath)));
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.Move(staging, folder);
        return demo;
    }

    /// <summary>Caption-like sentences from a few templates: enough text for a small tokenizer to learn the
    /// words the demo's prompts use.</summary>
    public static IReadOnlyList<string> CaptionSentences()
    {
        string[] modalities = ["Chest X-ray", "Axial CT", "Coronal MRI", "Histology slide", "Gross specimen photograph"];
        string[] findings = ["a small nodule", "a pleural effusion", "no acute abnormality", "a well-defined mass",
                             "diffuse ground-glass opacities", "an enlarged cardiac silhouette", "scattered calcifications"];
        string[] places = ["in the right upper lobe", "in the left lower lobe", "at the lung base", "near the hilum",
                           "in the liver", "in the frontal lobe", "within the specimen"];
        string[] questions = ["What is shown in this image?", "Is there an abnormality?", "Where is the lesion?",
                              "What modality is this?", "Describe the findings.", "Is this image normal?"];
        var sentences = new List<string>();
        foreach (var modality in modalities)
            foreach (var finding in findings)
                foreach (var place in places)
                    sentences.Add($"{modality} shows {finding} {place}.");
        sentences.AddRange(questions);
        sentences.AddRange(questions.Select(q => $"[INST] <image>\n{q} [/INST]"));
        return sentences;
    }

    /// <summary>A 256x256 grey frontal-chest-like picture: dark lung fields, a bright mediastinum and one nodule.</summary>
    static void WriteDemoImage(string path)
    {
        using var surface = SKSurface.Create(new SKImageInfo(256, 256, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(new SKColor(40, 40, 40));
        using var paint = new SKPaint { IsAntialias = true };
        paint.Color = new SKColor(200, 200, 200);
        canvas.DrawOval(new SKRect(40, 30, 216, 240), paint);
        paint.Color = new SKColor(70, 70, 70);
        canvas.DrawOval(new SKRect(58, 50, 124, 215), paint);
        canvas.DrawOval(new SKRect(132, 50, 198, 215), paint);
        paint.Color = new SKColor(230, 230, 230);
        canvas.DrawCircle(92, 95, 9, paint);
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        png.SaveTo(file);
    }
}
