using System.ClientModel;
using System.ClientModel.Primitives;
using Azure.AI.OpenAI;
using LlavaMed.Data.SelfInstruct;
using Microsoft.Extensions.AI;
using OllamaSharp;
using OpenAI;

namespace LlavaMed.Llm;

/// <summary>Builds the chat client used by self-instruct generation and the GPT judge: the provider's client,
/// wrapped (outermost first) in the on-disk response cache and the retry policy. A cache hit costs no request.</summary>
public static class ChatClientFactory
{
    /// <summary>Bumped when the cached value layout changes, so stale entries are not misread.</summary>
    const string CacheSchema = "llava-med-chat-cache-v1";

    public static IChatClient Create(ProviderOptions options)
    {
        var inner = CreateProviderClient(options);
        var builder = new ChatClientBuilder(inner);
        if (options.CacheFolder is not null)
        {
            var cache = new FileResponseCache(options.CacheFolder);
            // The request's ChatOptions (model, temperature, ...) and messages are hashed by the caching client;
            // the provider and endpoint are added so two services never share an answer.
            builder.UseDistributedCache(cache, caching => caching.CacheKeyAdditionalValues =
                [CacheSchema, ProviderOptions.ProviderName(options.Provider), options.Endpoint?.ToString() ?? ""]);
        }
        // Also around the synthetic client, whose Requests count then says what a real service would have cost.
        builder.Use(client => new RetryingChatClient(client, options.MaxAttempts, options.BaseRetryDelay, options.MaxRetryDelay));
        return builder.Build();
    }

    /// <summary>The ChatOptions every request of this workbench sends: the model named explicitly (so it is part
    /// of the cache key) and temperature 0, the paper's setting.</summary>
    public static ChatOptions RequestOptions(ProviderOptions options) => new()
    {
        ModelId = options.ResolvedModel,
        Temperature = 0,
    };

    // One method per provider: the JIT then resolves a provider's SDK only when that provider is used, so the
    // synthetic provider works where the OpenAI assemblies cannot be bound (e.g. inside notebook kernels).
    static IChatClient CreateProviderClient(ProviderOptions options) => options.Provider switch
    {
        ChatProvider.Synthetic => new SyntheticChatClient(options.SyntheticWriter ?? new CaptionConversationWriter()),
        ChatProvider.OpenAI => CreateOpenAI(options),
        ChatProvider.AzureOpenAI => CreateAzureOpenAI(options),
        ChatProvider.Ollama => CreateOllama(options),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Provider, "unknown provider"),
    };

    static IChatClient CreateOpenAI(ProviderOptions options)
    {
        var key = options.ApiKey ?? throw new ArgumentException(
            $"the openai provider needs an API key: set {ProviderOptions.OpenAIKeyVariable}");
        var clientOptions = new OpenAIClientOptions
        {
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = options.RequestTimeout,
        };
        if (options.Endpoint is not null) clientOptions.Endpoint = options.Endpoint;
        return new OpenAIClient(new ApiKeyCredential(key), clientOptions).GetChatClient(options.ResolvedModel).AsIChatClient();
    }

    static IChatClient CreateAzureOpenAI(ProviderOptions options)
    {
        var endpoint = options.Endpoint ?? throw new ArgumentException(
            $"the azure-openai provider needs an endpoint: --endpoint or {ProviderOptions.AzureEndpointVariable}");
        var key = options.ApiKey ?? throw new ArgumentException(
            $"the azure-openai provider needs an API key: set {ProviderOptions.AzureKeyVariable}");
        var clientOptions = new AzureOpenAIClientOptions
        {
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = options.RequestTimeout,
        };
        return new AzureOpenAIClient(endpoint, new ApiKeyCredential(key), clientOptions)
            .GetChatClient(options.ResolvedModel).AsIChatClient();
    }

    static IChatClient CreateOllama(ProviderOptions options)
    {
        var http = new HttpClient
        {
            BaseAddress = options.Endpoint ?? new Uri("http://localhost:11434"),
            Timeout = options.RequestTimeout,
        };
        return new OllamaApiClient(http, options.ResolvedModel);
    }
}
