using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlavaMed.Data.SelfInstruct;

/// <summary>Writes the conversation for one figure without any language model. Implementations must be
/// deterministic: the same figure always gives the same conversation.</summary>
public interface ISyntheticConversationWriter
{
    /// <summary>A short name that identifies the writer (and its version) in cache keys and reports.</summary>
    string Name { get; }

    /// <summary>The conversation for <paramref name="figure"/>, rebuilt from the request: label, caption and the
    /// mentions the request included; <see cref="FigureCaptionRecord.PairId"/> when the pipeline passed it.</summary>
    IReadOnlyList<ConversationPair> Write(FigureCaptionRecord figure);
}

/// <summary>The offline provider (<c>--provider synthetic</c>): an <see cref="IChatClient"/> that answers a
/// self-instruct request by reading the figure back out of its last user message and asking an
/// <see cref="ISyntheticConversationWriter"/> for the conversation, formatted as a model would write it. It goes
/// through the same cache, parser and cleaning as a real service, so the whole pipeline runs with no network.</summary>
public sealed class SyntheticChatClient(ISyntheticConversationWriter writer) : IChatClient
{
    /// <summary>The ChatOptions.AdditionalProperties key under which the pipeline passes the figure's pair_id.</summary>
    public const string PairIdProperty = "llava_med_pair_id";

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
                                               CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var request = messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
        var figure = SelfInstructPrompt.ParseFigure(request)
                     ?? throw new NotSupportedException(
                         "the synthetic provider only writes self-instruct conversations (a request ending in 'Figure Caption:'); "
                         + "use openai, azure-openai or ollama for other requests");
        if (options?.AdditionalProperties?.TryGetValue(PairIdProperty, out var pairId) == true && pairId is string id)
            figure = figure with { PairId = id };
        var text = SelfInstructPrompt.FormatConversation(writer.Write(figure));
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = writer.Name,
            FinishReason = ChatFinishReason.Stop,
        });
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var response = await GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        foreach (var update in response.ToChatResponseUpdates()) yield return update;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }
}
