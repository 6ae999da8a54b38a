using System.CommandLine;
using LlavaMed.Llm;
using LlavaMed.Workbench;

namespace LlavaMed.Cli;

/// <summary>The chat-provider options shared by <c>data self-instruct</c> (<c>--provider</c>, ...) and <c>eval chat</c>
/// (<c>--judge-provider</c>, ...). Keys are read from the environment only, never from the command line, so they
/// stay out of shell history and scripts.</summary>
internal sealed class ProviderCliOptions
{
    public Option<string> Provider { get; }
    public Option<string?> Model { get; }
    public Option<string?> Endpoint { get; }
    public Option<string?> Cache { get; } = new("--cache")
    {
        Description = "response cache folder (default: <workbench cache>/llm-responses); reruns and resumed runs read answered requests from it",
    };
    public Option<bool> NoCache { get; } = new("--no-cache") { Description = "send every request, read and write no cache" };
    public Option<int> Concurrency { get; } = new("--concurrency") { Description = "requests in flight at once", DefaultValueFactory = _ => 4 };
    public Option<int> MaxAttempts { get; } = new("--max-attempts")
    {
        Description = "tries per request on HTTP 429/5xx, network errors and timeouts (exponential backoff)", DefaultValueFactory = _ => 6,
    };

    public ProviderCliOptions(string prefix, string defaultProvider)
    {
        Provider = new Option<string>($"--{prefix}provider")
        {
            Description = "synthetic (offline) | openai (OPENAI_API_KEY, OPENAI_BASE_URL) | azure-openai (AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY) | ollama (OLLAMA_HOST)",
            DefaultValueFactory = _ => defaultProvider,
        };
        Model = new Option<string?>($"--{prefix}model") { Description = "model name (Azure: deployment name)" };
        Endpoint = new Option<string?>($"--{prefix}endpoint") { Description = "service URL (OpenAI-compatible /v1 base, Azure resource, Ollama host)" };
    }

    public IEnumerable<Option> All => [Provider, Model, Endpoint, Cache, NoCache, Concurrency, MaxAttempts];

    public ProviderOptions Resolve(ParseResult parse) => new ProviderOptions
    {
        Provider = ProviderOptions.ParseProvider(parse.GetValue(Provider)!),
        Model = parse.GetValue(Model),
        Endpoint = parse.GetValue(Endpoint) is { } endpoint ? ProviderOptions.ParseEndpoint(endpoint) : null,
        CacheFolder = parse.GetValue(NoCache) ? null : parse.GetValue(Cache) ?? Path.Combine(WorkbenchPaths.CacheRoot(), "llm-responses"),
        MaxAttempts = parse.GetValue(MaxAttempts),
    }.FromEnvironment();

    public string Describe(ProviderOptions options) =>
        $"{ProviderOptions.ProviderName(options.Provider)} model {options.ResolvedModel}"
        + (options.Endpoint is null ? "" : $" at {options.Endpoint}")
        + $", cache {options.CacheFolder ?? "off"}";
}
