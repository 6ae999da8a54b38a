using LlavaMed.Data.SelfInstruct;

namespace LlavaMed.Llm;

/// <summary>Which service answers chat requests.</summary>
public enum ChatProvider
{
    /// <summary>Offline, deterministic conversations written without any service (see <c>SyntheticChatClient</c>).</summary>
    Synthetic,
    OpenAI,
    AzureOpenAI,
    Ollama,
}

/// <summary>How to reach a chat model, shared by self-instruct generation and the GPT judge. Keys come from the
/// environment (<see cref="FromEnvironment"/>) or from code (notebooks); never from a file in the repository.</summary>
public sealed record ProviderOptions
{
    public ChatProvider Provider { get; init; } = ChatProvider.Synthetic;

    /// <summary>Model (OpenAI, Ollama) or deployment (Azure OpenAI) name.</summary>
    public string? Model { get; init; }

    /// <summary>Service base address: an OpenAI-compatible <c>/v1</c> URL, an Azure resource URL or an Ollama host.
    /// Null selects the provider's default (api.openai.com; <c>AZURE_OPENAI_ENDPOINT</c>; <c>OLLAMA_HOST</c> or
    /// http://localhost:11434).</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>API key; <see cref="FromEnvironment"/> fills it from OPENAI_API_KEY or AZURE_OPENAI_API_KEY.</summary>
    public string? ApiKey { get; init; }

    /// <summary>On-disk response cache folder; null disables caching.</summary>
    public string? CacheFolder { get; init; }

    /// <summary>Attempts per request, the first included, on transient errors (HTTP 408/429/5xx, network errors,
    /// timeouts).</summary>
    public int MaxAttempts { get; init; } = 6;

    /// <summary>Delay before the first retry; it doubles on each further retry (with jitter), capped at
    /// <see cref="MaxRetryDelay"/>. A server's Retry-After header takes precedence when it asks for longer.</summary>
    public TimeSpan BaseRetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Time allowed for one HTTP request before it counts as a transient timeout.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>The offline provider's author of conversations; null selects the caption-based writer.</summary>
    public ISyntheticConversationWriter? SyntheticWriter { get; init; }

    /// <summary>The model name sent and hashed into cache keys: <see cref="Model"/>, else the provider's default
    /// (Azure OpenAI has none: its deployment name must be given).</summary>
    public string ResolvedModel => Model ?? Provider switch
    {
        ChatProvider.Synthetic => SyntheticWriter?.Name ?? "synthetic-caption",
        ChatProvider.OpenAI => "gpt-4o",
        ChatProvider.AzureOpenAI => throw new ArgumentException("--model (the Azure OpenAI deployment name) is required for azure-openai"),
        ChatProvider.Ollama => "llama3.1",
        _ => throw new ArgumentOutOfRangeException(nameof(Provider)),
    };

    public const string OpenAIKeyVariable = "OPENAI_API_KEY";
    public const string OpenAIBaseUrlVariable = "OPENAI_BASE_URL";
    public const string AzureEndpointVariable = "AZURE_OPENAI_ENDPOINT";
    public const string AzureKeyVariable = "AZURE_OPENAI_API_KEY";
    public const string OllamaHostVariable = "OLLAMA_HOST";

    /// <summary>Fills <see cref="ApiKey"/> and <see cref="Endpoint"/> from the provider's environment variables
    /// where they are not set already.</summary>
    public ProviderOptions FromEnvironment(Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        string? Read(string name) => getVariable(name) is { Length: > 0 } value ? value : null;
        Uri? ReadUri(string name) => Read(name) is { } text ? ParseEndpoint(text) : null;
        return Provider switch
        {
            ChatProvider.OpenAI => this with
            {
                ApiKey = ApiKey ?? Read(OpenAIKeyVariable), Endpoint = Endpoint ?? ReadUri(OpenAIBaseUrlVariable),
            },
            ChatProvider.AzureOpenAI => this with
            {
                ApiKey = ApiKey ?? Read(AzureKeyVariable), Endpoint = Endpoint ?? ReadUri(AzureEndpointVariable),
            },
            ChatProvider.Ollama => this with { Endpoint = Endpoint ?? ReadUri(OllamaHostVariable) },
            _ => this,
        };
    }

    /// <summary>Parses the CLI spelling of a provider: synthetic, openai, azure-openai, ollama.</summary>
    public static ChatProvider ParseProvider(string name) => name.Trim().ToLowerInvariant() switch
    {
        "synthetic" => ChatProvider.Synthetic,
        "openai" => ChatProvider.OpenAI,
        "azure-openai" or "azure" => ChatProvider.AzureOpenAI,
        "ollama" => ChatProvider.Ollama,
        _ => throw new ArgumentException($"unknown provider '{name}' (expected synthetic, openai, azure-openai or ollama)"),
    };

    public static string ProviderName(ChatProvider provider) => provider switch
    {
        ChatProvider.Synthetic => "synthetic",
        ChatProvider.OpenAI => "openai",
        ChatProvider.AzureOpenAI => "azure-openai",
        ChatProvider.Ollama => "ollama",
        _ => throw new ArgumentOutOfRangeException(nameof(provider)),
    };

    /// <summary>Accepts "host:port" as Ollama's OLLAMA_HOST does, adding http://.</summary>
    public static Uri ParseEndpoint(string text) =>
        Uri.TryCreate(text.Contains("://") ? text : "http://" + text, UriKind.Absolute, out var uri)
            ? uri
            : throw new ArgumentException($"'{text}' is not a valid endpoint URL");
}
