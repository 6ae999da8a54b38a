using System.Text;
using LlavaMed.Images;
using LlavaMed.Models;
using LlavaMed.Text;

namespace LlavaMed.Inference;

/// <summary>
/// A multi-turn conversation about one image, as LLaVA's CLI holds it: the image goes with the first user turn,
/// each answer is stored (stripped, without the stop string) and rendered back into the next turn's prompt by the
/// conversation template. Every turn re-encodes the whole prompt (no key/value cache is kept between turns): simple
/// and exactly what a fresh single-turn call with the same history computes.
/// </summary>
public sealed class ChatSession
{
    private readonly LlavaPipeline pipeline;
    private readonly List<ChatMessage> messages = [];

    public ChatSession(LlavaPipeline pipeline, RgbImage image, GenerationOptions? options = null)
    {
        this.pipeline = pipeline;
        Image = image;
        Options = options ?? pipeline.DefaultGenerationOptions();
    }

    public RgbImage Image { get; private set; }
    public GenerationOptions Options { get; }

    /// <summary>The finished turns: user and assistant messages, alternating (the image marker is not in them).</summary>
    public IReadOnlyList<ChatMessage> Messages => messages;

    /// <summary>The prompt the last question was answered from, exactly as the model saw it (null before the first
    /// question and after <see cref="Reset"/>).</summary>
    public string? Prompt { get; private set; }

    /// <summary>The prompt the model would see for <paramref name="question"/> as the next turn.</summary>
    public string PromptFor(string question) => pipeline.BuildPrompt([.. messages, ChatMessage.User(question)]);

    /// <summary>Streams the answer to the next question (lazily: nothing happens until enumerated). The turn is
    /// recorded when the stream ends, also when the caller stops early (with the text shown so far); a turn that
    /// failed or was abandoned before any text is not recorded.</summary>
    public IEnumerable<string> AskStreaming(string question)
    {
        if (string.IsNullOrWhiteSpace(question)) throw new ArgumentException("the question is empty", nameof(question));
        return Stream(question.Trim());
    }

    public string Ask(string question) => string.Concat(AskStreaming(question));

    /// <summary>Starts a new conversation, about <paramref name="image"/> when given, else the same image.</summary>
    public void Reset(RgbImage? image = null)
    {
        messages.Clear();
        Prompt = null;
        if (image is not null) Image = image;
    }

    private IEnumerable<string> Stream(string question)
    {
        var prompt = PromptFor(question);
        var previousPrompt = Prompt;
        var answer = new StringBuilder();
        var finished = false;
        Prompt = prompt;
        messages.Add(ChatMessage.User(question));
        try
        {
            foreach (var piece in pipeline.StreamAnswer(Image, prompt, Options))
            {
                answer.Append(piece);
                yield return piece;
            }
            finished = true;
        }
        finally
        {
            if (finished || answer.Length > 0)
                messages.Add(ChatMessage.Assistant(answer.ToString().Trim()));
            else
            {
                messages.RemoveAt(messages.Count - 1);
                Prompt = previousPrompt;
            }
        }
    }
}
