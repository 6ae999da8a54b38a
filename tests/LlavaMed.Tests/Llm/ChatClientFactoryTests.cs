using LlavaMed.Llm;
using Microsoft.Extensions.AI;

namespace LlavaMed.Tests.Llm;

public sealed class ChatClientFactoryTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-llm-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You are terse."),
        new(ChatRole.User, "Name one imaging modality."),
        new(ChatRole.Assistant, "MRI."),
        new(ChatRole.User, "Another one?"),
    ];

    ProviderOptions OpenAI(OpenAIProtocolServer server, bool cache = false) => new()
    {
        Provider = ChatProvider.OpenAI,
        Model = "gpt-test",
        Endpoint = server.OpenAIBase,
        ApiKey = "sk-test-key",
        CacheFolder = cache ? Path.Combine(temporary, "cache") : null,
        BaseRetryDelay = TimeSpan.FromMilliseconds(5),
        MaxRetryDelay = TimeSpan.FromMilliseconds(50),
    };

    [Fact]
    public async Task OpenAIClientRoundTripsThroughALocalServer()
    {
        using var server = new OpenAIProtocolServer((_, _) => ServerReply.Ok("CT."));
        var options = OpenAI(server);
        using var client = ChatClientFactory.Create(options);
        var response = await client.GetResponseAsync(Conversation, ChatClientFactory.RequestOptions(options), TestContext.Current.CancellationToken);

        Assert.Equal("CT.", response.Text);
        var request = Assert.Single(server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1/chat/completions", request.PathAndQuery);
        Assert.Equal("Bearer sk-test-key", request.Headers["Authorization"]);
        Assert.Equal("gpt-test", (string?)request.Body["model"]);
        Assert.Equal(0.0, (double)request.Body["temperature"]!);
        var messages = request.Body["messages"]!.AsArray();
        Assert.Equal(["system", "user", "assistant", "user"], messages.Select(m => (string)m!["role"]!));
        Assert.Equal(Conversation.Select(m => m.Text), messages.Select(m => ContentText(m!["content"])));
    }

    /// <summary>The OpenAI SDK sends content as a string or as a list of text parts.</summary>
    static string ContentText(System.Text.Json.Nodes.JsonNode? content) => content is System.Text.Json.Nodes.JsonArray parts
        ? string.Concat(parts.Select(p => (string?)p!["text"]))
        : (string)content!;

    [Fact]
    public async Task PerRequestPropertiesStayOutOfTheHttpRequest()
    {
        using var server = new OpenAIProtocolServer((_, _) => ServerReply.Ok("ok"));
        var options = OpenAI(server);
        using var client = ChatClientFactory.Create(options);
        var chatOptions = ChatClientFactory.RequestOptions(options);
        chatOptions.AdditionalProperties = new() { ["llava_med_pair_id"] = "PMC1_F1" };
        await client.GetResponseAsync(Conversation, chatOptions, TestContext.Current.CancellationToken);
        var body = Assert.Single(server.Requests).Body.ToJsonString();
        Assert.DoesNotContain("PMC1_F1", body);
    }

    [Fact]
    public async Task RateLimitIsRetriedWithBackoffThenSucceeds()
    {
        using var server = new OpenAIProtocolServer((_, index) => index == 0
            ? new ServerReply(429, "rate limited", new Dictionary<string, string> { ["Retry-After"] = "0" })
            : ServerReply.Ok("after the wait"));
        var options = OpenAI(server);
        using var client = ChatClientFactory.Create(options);
        var response = await client.GetResponseAsync(Conversation, ChatClientFactory.RequestOptions(options), TestContext.Current.CancellationToken);

        Assert.Equal("after the wait", response.Text);
        Assert.Equal(2, server.RequestCount); // the SDK's own retries are off: ours made exactly one retry
        var retrying = client.GetService<RetryingChatClient>()!;
        Assert.Equal(2, retrying.Requests);
        Assert.Equal(1, retrying.Retries);
    }

    [Fact]
    public async Task ServerErrorsAreRetriedUpToTheLimitThenReported()
    {
        using var server = new OpenAIProtocolServer((_, _) => new ServerReply(503, "overloaded"));
        var options = OpenAI(server) with { MaxAttempts = 3 };
        using var client = ChatClientFactory.Create(options);
        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            client.GetResponseAsync(Conversation, ChatClientFactory.RequestOptions(options), TestContext.Current.CancellationToken));
        Assert.Contains("503", error.Message);
        Assert.Equal(3, server.RequestCount);
    }

    [Fact]
    public async Task ClientErrorsAreNotRetried()
    {
        using var server = new OpenAIProtocolServer((_, _) => new ServerReply(401, "bad key"));
        var options = OpenAI(server);
        using var client = ChatClientFactory.Create(options);
        await Assert.ThrowsAnyAsync<Exception>(() =>
            client.GetResponseAsync(Conversation, ChatClientFactory.RequestOptions(options), TestContext.Current.CancellationToken));
        Assert.Equal(1, server.RequestCount);
    }

    [Fact]
    public async Task CachedResponsesCostNoRequestAndSurviveANewClient()
    {
        using var server = new OpenAIProtocolServer((request, index) => ServerReply.Ok($"answer {index}"));
        var options = OpenAI(server, cache: true);
        var token = TestContext.Current.CancellationToken;
        string first;
        using (var client = ChatClientFactory.Create(options))
            first = (await client.GetResponseAsync(Conversation, ChatClientFactory.RequestOptions(options), token)).Text;
        using (var client = ChatClientFactory.Create(options))
        {
            var again = await client.GetResponseAsync(Conversation, ChatClientFactory.RequestOptions(options), token);
            Assert.Equal(first, again.Text);
            Assert.Equal(0, client.GetService<RetryingChatClient>()!.Requests);
        }
        Assert.Equal(1, server.RequestCount);
        Assert.Empty(Directory.EnumerateFiles(options.CacheFolder!, "*.tmp", SearchOption.AllDirectories));
        Assert.Single(Directory.EnumerateFiles(options.CacheFolder!, "*.json", SearchOption.AllDirectories));

        // Anything that changes the request changes the key: another model, another temperature, another message.
        using (var client = ChatClientFactory.Create(options with { Model = "gpt-other" }))
            await client.GetResponseAsync(Conversation, ChatClientFactory.RequestOptions(options with { Model = "gpt-other" }), token);
        using (var client = ChatClientFactory.Create(options))
        {
            var warmer = ChatClientFactory.RequestOptions(options);
            warmer.Temperature = 0.7f;
            await client.GetResponseAsync(Conversation, warmer, token);
            await client.GetResponseAsync([.. Conversation, new ChatMessage(ChatRole.User, "And a third?")],
                                          ChatClientFactory.RequestOptions(options), token);
        }
        Assert.Equal(4, server.RequestCount);
    }

    [Fact]
    public async Task AzureOpenAIClientRoundTripsThroughALocalServer()
    {
        using var server = new OpenAIProtocolServer((_, _) => ServerReply.Ok("ultrasound"));
        var options = new ProviderOptions
        {
            Provider = ChatProvider.AzureOpenAI, Model = "my-deployment", Endpoint = server.Root, ApiKey = "azure-test-key",
            BaseRetryDelay = TimeSpan.FromMilliseconds(5),
        };
        using var client = ChatClientFactory.Create(options);
        var response = await client.GetResponseAsync(Conversation, ChatClientFactory.RequestOptions(options), TestContext.Current.CancellationToken);

        Assert.Equal("ultrasound", response.Text);
        var request = Assert.Single(server.Requests);
        Assert.StartsWith("/openai/deployments/my-deployment/chat/completions?api-version=", request.PathAndQuery);
        Assert.Equal("azure-test-key", request.Headers["api-key"]);
    }

    [Fact]
    public void KeysAndEndpointsComeFromTheEnvironment()
    {
        var environment = new Dictionary<string, string>
        {
            ["OPENAI_API_KEY"] = "sk-env", ["AZURE_OPENAI_ENDPOINT"] = "https://res.openai.azure.com/",
            ["AZURE_OPENAI_API_KEY"] = "az-env", ["OLLAMA_HOST"] = "gpu-box:11434",
        };
        string? Read(string name) => environment.GetValueOrDefault(name);
        Assert.Equal("sk-env", new ProviderOptions { Provider = ChatProvider.OpenAI }.FromEnvironment(Read).ApiKey);
        var azure = new ProviderOptions { Provider = ChatProvider.AzureOpenAI }.FromEnvironment(Read);
        Assert.Equal(("az-env", "https://res.openai.azure.com/"), (azure.ApiKey, azure.Endpoint!.ToString()));
        Assert.Equal("http://gpu-box:11434/", new ProviderOptions { Provider = ChatProvider.Ollama }.FromEnvironment(Read).Endpoint!.ToString());
        // An explicit value wins over the environment.
        Assert.Equal("sk-explicit", new ProviderOptions { Provider = ChatProvider.OpenAI, ApiKey = "sk-explicit" }.FromEnvironment(Read).ApiKey);
    }

    [Fact]
    public void MissingKeyIsAClearError()
    {
        var error = Assert.Throws<ArgumentException>(() => ChatClientFactory.Create(new ProviderOptions { Provider = ChatProvider.OpenAI }));
        Assert.Contains("OPENAI_API_KEY", error.Message);
        Assert.Throws<ArgumentException>(() => ProviderOptions.ParseProvider("gpt5"));
        Assert.Equal(ChatProvider.AzureOpenAI, ProviderOptions.ParseProvider("azure-openai"));
    }

    [Fact]
    public async Task OllamaClientIsCreatedAgainstTheConfiguredHost()
    {
        // Ollama speaks its own protocol (/api/chat); an unreachable host must surface as a (retried) transient error.
        var options = new ProviderOptions
        {
            Provider = ChatProvider.Ollama, Model = "llama3.1", Endpoint = new Uri("http://127.0.0.1:9/"), MaxAttempts = 2,
            BaseRetryDelay = TimeSpan.FromMilliseconds(5), RequestTimeout = TimeSpan.FromSeconds(5),
        };
        using var client = ChatClientFactory.Create(options);
        await Assert.ThrowsAnyAsync<Exception>(() =>
            client.GetResponseAsync(Conversation, ChatClientFactory.RequestOptions(options), TestContext.Current.CancellationToken));
        Assert.Equal(2, client.GetService<RetryingChatClient>()!.Requests);
    }
}
