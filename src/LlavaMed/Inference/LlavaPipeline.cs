using LlavaMed.Checkpoints;
using LlavaMed.Images;
using LlavaMed.Models;
using LlavaMed.Text;
using static TorchSharp.torch;

namespace LlavaMed.Inference;

/// <summary>How to assemble a pipeline: where the tokenizer lives (default: the model folder), which
/// conversation template (default: the one LLaVA-Med used for that model version), dtype, device and
/// vision-tower source.</summary>
public sealed record PipelineOptions
{
    public string? TokenizerFolder { get; init; }
    public string? Template { get; init; }
    public LoadOptions Load { get; init; } = new();
}

/// <summary>A loaded model with everything needed to ask it about an image the way LLaVA-Med's own scripts do:
/// tokenizer, image processor and conversation template.</summary>
public sealed class LlavaPipeline : IDisposable
{
    public LlavaForCausalLM Model { get; }
    public LlavaTokenizer Tokenizer { get; }
    public ClipImageProcessor ImageProcessor { get; }
    public ConversationTemplate Template { get; }

    public LlavaPipeline(LlavaForCausalLM model, LlavaTokenizer tokenizer, ClipImageProcessor imageProcessor, ConversationTemplate template)
    {
        if (tokenizer.VocabularySize > model.Config.VocabSize)
            throw new ArgumentException($"the tokenizer has {tokenizer.VocabularySize} tokens but the model only "
                                        + $"{model.Config.VocabSize} embedding rows");
        Model = model;
        Tokenizer = tokenizer;
        ImageProcessor = imageProcessor;
        Template = template;
    }

    public static LlavaPipeline Load(string modelFolder, PipelineOptions? options = null)
    {
        options ??= new PipelineOptions();
        var loaded = ModelWithProcessors.Load(modelFolder, options.TokenizerFolder, options.Load);
        try
        {
            var template = ConversationTemplate.ByName(options.Template ?? DefaultTemplate(loaded.Model.Config));
            return new LlavaPipeline(loaded.Model, loaded.Tokenizer, loaded.ImageProcessor, template);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>The template LLaVA-Med's evaluation used: mistral_instruct for v1.5, <c>simple</c> for v1.0
    /// (model_vqa_med.py's default), vicuna_v1 for LLaMA-based v1.5-style models.</summary>
    public static string DefaultTemplate(LlavaConfig config) => config.ModelType switch
    {
        "llava_mistral" => ConversationTemplate.MistralInstruct.Name,
        "llava" => ConversationTemplate.Simple.Name,
        _ => ConversationTemplate.VicunaV1.Name,
    };

    /// <summary>The prompt text for one question about one image, exactly as the model sees it.</summary>
    public string BuildPrompt(string question) => BuildPrompt([ChatMessage.User(question)]);

    /// <summary>The prompt for a conversation about one image, ending with an open assistant turn: the image goes
    /// with the first user message (as LLaVA's CLI and model_vqa*.py put it), later messages are plain text.
    /// <paramref name="conversation"/> alternates user and assistant messages and ends with a user message.</summary>
    public string BuildPrompt(IReadOnlyList<ChatMessage> conversation)
    {
        if (conversation.Count == 0 || conversation[^1].Role != ChatRole.User)
            throw new ArgumentException("a conversation prompt needs a last message from the user");
        for (var i = 0; i < conversation.Count; i++)
            if (conversation[i].Role != (i % 2 == 0 ? ChatRole.User : ChatRole.Assistant))
                throw new ArgumentException($"message {i} is from {conversation[i].Role}; messages must alternate user/assistant, starting with the user");
        var config = Model.Config;
        var question = conversation[0].Content ?? "";
        var firstWithImage = config.UsesImagePatchTokens || config.ModelType == "llava"
            ? MultimodalPreprocessing.V10Question(question, config.Vision.NumPatches, config.MmUseImStartEnd)
            : MultimodalPreprocessing.V15Question(question, config.MmUseImStartEnd);
        return Template.Render([ChatMessage.User(firstWithImage), .. conversation.Skip(1)], addGenerationPrompt: true);
    }

    /// <summary>Prompt ids: -200 where the image goes (v1.5), or the expanded image tokens (v1.0).</summary>
    public long[] Tokenize(string prompt) => Tokenizer.EncodeWithImages(prompt);

    /// <summary>Pixel values [1, 3, H, W] for one image.</summary>
    public Tensor Preprocess(RgbImage image) => ImageProcessor.PreprocessBatch([image]);

    /// <summary>The defaults LLaVA-Med v1.5 evaluates with: greedy, stop at EOS and the template's stop strings.</summary>
    public GenerationOptions DefaultGenerationOptions(int maxNewTokens = 512) => new()
    {
        MaxNewTokens = maxNewTokens,
        StopStrings = Template.StopStrings,
    };

    /// <summary>Streams the answer as text pieces. Text that could be the start of a stop string is held back
    /// until it is clear it is not one, so the stream never shows a stop string.</summary>
    public IEnumerable<string> AskStreaming(RgbImage image, string question, GenerationOptions? options = null) =>
        StreamAnswer(image, BuildPrompt(question), options);

    /// <summary>Streams the answer to a prompt built by <see cref="BuildPrompt(IReadOnlyList{ChatMessage})"/>,
    /// holding back text that could start a stop string (see <see cref="AskStreaming"/>).</summary>
    public IEnumerable<string> StreamAnswer(RgbImage image, string promptText, GenerationOptions? options = null)
    {
        options ??= DefaultGenerationOptions();
        var prompt = Tokenize(promptText);
        EnsureFitsContext(prompt);
        using var pixels = Preprocess(image);
        var generator = new ResponseGenerator(Model, ids => Tokenizer.Decode(ids));
        var results = new List<GeneratedSequence>();
        var tokens = new List<long>();
        int emitted = 0;
        var stops = options.StopStrings.Where(s => s.Length > 0).ToArray();
        foreach (var step in generator.Stream([prompt], pixels, options, results))
        {
            if (step.Tokens[0] is not { } token || token == Model.Config.EosTokenId) continue;
            tokens.Add(token);
            var text = Tokenizer.Decode(tokens);
            int safe = StopStrings.SafePrefixLength(text, stops);
            if (safe > emitted)
            {
                yield return text[emitted..safe];
                emitted = safe;
            }
        }
        var final = results[0].Text ?? "";
        if (final.Length > emitted) yield return final[emitted..];
    }

    /// <summary>The model's most likely first answer tokens for a question: (token piece, probability).</summary>
    public IReadOnlyList<(string Token, float Probability)> NextTokenDistribution(RgbImage image, string question, int top = 10)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var pixels = Preprocess(image);
        using var inputs = Model.PrepareInputs([Tokenize(BuildPrompt(question))], pixels);
        var probabilities = Model.Forward(inputs).Logits[0, -1].to(float32).softmax(-1);
        var (values, indices) = probabilities.topk(Math.Min(top, (int)probabilities.shape[0]));
        return indices.data<long>().ToArray()
            .Zip(values.data<float>().ToArray(), (id, p) => (Tokenizer.IdToToken((int)id), p))
            .ToList();
    }

    public string Ask(RgbImage image, string question, GenerationOptions? options = null) =>
        string.Concat(AskStreaming(image, question, options));

    /// <summary>Answers prompts about images in one left-padded batch (one image per prompt); a batch gives the
    /// same greedy answers as one prompt at a time. Texts are cut before any stop string, not trimmed.</summary>
    public IReadOnlyList<GeneratedSequence> GenerateBatch(IReadOnlyList<RgbImage> images, IReadOnlyList<string> prompts,
                                                        GenerationOptions? options = null)
    {
        if (images.Count != prompts.Count)
            throw new ArgumentException($"{images.Count} images for {prompts.Count} prompts; give one image per prompt");
        var ids = prompts.Select(Tokenize).ToList();
        foreach (var row in ids) EnsureFitsContext(row);
        using var pixels = ImageProcessor.PreprocessBatch(images);
        return new ResponseGenerator(Model, tokens => Tokenizer.Decode(tokens))
            .Generate(ids, pixels, options ?? DefaultGenerationOptions());
    }

    /// <summary>Decoder positions a tokenized prompt takes: text tokens plus each image's patch features (v1.5's
    /// -200 placeholder stands for them; v1.0 prompts already hold one token per patch).</summary>
    public int PromptPositions(IReadOnlyList<long> promptIds)
    {
        var placeholders = promptIds.Count(id => id == LlavaTokenizer.ImageTokenIndex);
        return promptIds.Count - placeholders + placeholders * Model.Config.Vision.NumPatches;
    }

    // Generation must not silently cut the prompt (the splice truncates rows to tokenizer_model_max_length).
    void EnsureFitsContext(IReadOnlyList<long> promptIds)
    {
        var limit = Model.Config.TokenizerModelMaxLength;
        var positions = PromptPositions(promptIds);
        if (limit is { } max && positions > max)
            throw new ArgumentException($"the prompt takes {positions} positions, more than the model's "
                                        + $"tokenizer_model_max_length {max}");
    }

    public void Dispose() => Model.Dispose();
}

/// <summary>Pure helpers for stop strings in streamed text.</summary>
public static class StopStrings
{
    /// <summary>How much of <paramref name="text"/> can be shown: up to the first complete stop string, and
    /// short of any trailing text that is a prefix of a stop string.</summary>
    public static int SafePrefixLength(string text, IReadOnlyList<string> stops)
    {
        int safe = text.Length;
        foreach (var stop in stops)
        {
            var found = text.IndexOf(stop, StringComparison.Ordinal);
            if (found >= 0) safe = Math.Min(safe, found);
            for (int length = Math.Min(stop.Length - 1, text.Length); length > 0; length--)
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    safe = Math.Min(safe, text.Length - length);
                    break;
                }
        }
        return safe;
    }
}
