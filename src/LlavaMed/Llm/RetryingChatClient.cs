using System.ClientModel;
using System.Net;
using Microsoft.Extensions.AI;
using Polly;
using Polly.Retry;

namespace LlavaMed.Llm;

/// <summary>Retries transient failures (HTTP 408/429/5xx, network errors, request timeouts) with exponential
/// backoff and jitter, honouring a server's Retry-After. Every provider's SDK retries are switched off by
/// <see cref="ChatClientFactory"/>, so this is the single place that decides, and it counts what it sends.</summary>
public sealed class RetryingChatClient : DelegatingChatClient
{
    readonly ResiliencePipeline pipeline;
    int requests;
    int retries;

    public RetryingChatClient(IChatClient inner, int maxAttempts, TimeSpan baseDelay, TimeSpan maxDelay) : base(inner)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        var builder = new ResiliencePipelineBuilder();
        if (maxAttempts > 1)
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = maxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = baseDelay,
                MaxDelay = maxDelay,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } e && IsTransient(e, args.Context.CancellationToken)),
                DelayGenerator = args => ValueTask.FromResult(
                    RetryAfter(args.Outcome.Exception) is { } wait && wait > TimeSpan.Zero
                        ? (TimeSpan?)TimeSpan.FromTicks(Math.Min(wait.Ticks, maxDelay.Ticks))
                        : null),
                OnRetry = _ =>
                {
                    Interlocked.Increment(ref retries);
                    return ValueTask.CompletedTask;
                },
            });
        pipeline = builder.Build();
    }

    /// <summary>Requests passed to the service, retries included.</summary>
    public int Requests => requests;

    public int Retries => retries;

    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
                                                        CancellationToken cancellationToken = default)
    {
        var history = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        return pipeline.ExecuteAsync(async token =>
        {
            Interlocked.Increment(ref requests);
            return await base.GetResponseAsync(history, options, token).ConfigureAwait(false);
        }, cancellationToken).AsTask();
    }

    /// <summary>True for failures worth another try: rate limits, server errors, lost connections and timeouts,
    /// but not the caller cancelling, bad requests or bad keys.</summary>
    public static bool IsTransient(Exception exception, CancellationToken callerToken) => exception switch
    {
        OperationCanceledException => !callerToken.IsCancellationRequested,
        ClientResultException e => e.Status is 0 or 408 or 429 or >= 500,
        HttpRequestException e => e.StatusCode is null or HttpStatusCode.RequestTimeout
                                  or HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError,
        TimeoutException or IOException => true,
        _ => false,
    };

    /// <summary>The server's Retry-After (seconds or HTTP date) or retry-after-ms, where the SDK exposes it.</summary>
    static TimeSpan? RetryAfter(Exception? exception)
    {
        if (exception is not ClientResultException { } e || e.GetRawResponse() is not { } response) return null;
        if (response.Headers.TryGetValue("retry-after-ms", out var ms) && double.TryParse(ms, out var milliseconds))
            return TimeSpan.FromMilliseconds(milliseconds);
        if (!response.Headers.TryGetValue("Retry-After", out var value) || value is null) return null;
        if (double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
            return TimeSpan.FromSeconds(seconds);
        return DateTimeOffset.TryParse(value, out var date) ? date - DateTimeOffset.UtcNow : null;
    }
}
