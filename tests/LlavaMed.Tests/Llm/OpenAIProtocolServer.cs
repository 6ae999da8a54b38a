using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace LlavaMed.Tests.Llm;

/// <summary>A request as the fake server received it.</summary>
public sealed record RecordedRequest(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers, JsonObject Body)
{
    /// <summary>The text of the last user message.</summary>
    public string LastUserText => Body["messages"]!.AsArray().Last(m => (string?)m!["role"] == "user")!["content"]!.GetValue<string>();
}

/// <summary>What the fake server sends back: a chat completion with <see cref="Content"/> when Status is 200, an
/// OpenAI-style error body otherwise.</summary>
public sealed record ServerReply(int Status, string Content, IReadOnlyDictionary<string, string>? Headers = null)
{
    public static ServerReply Ok(string content) => new(200, content);
}

/// <summary>An HTTP server on 127.0.0.1 (a free port) speaking the subset of the OpenAI chat-completions protocol the
/// real clients use (<c>POST .../chat/completions</c>, JSON in and out), so tests exercise the actual OpenAI and
/// Azure OpenAI SDK clients over real sockets. <paramref name="respond"/> gets each request and its 0-based index.</summary>
public sealed class OpenAIProtocolServer : IDisposable
{
    readonly HttpListener listener;
    readonly Func<RecordedRequest, int, ServerReply> respond;
    readonly ConcurrentQueue<RecordedRequest> requests = new();
    readonly Task loop;
    int count;

    public OpenAIProtocolServer(Func<RecordedRequest, int, ServerReply> respond)
    {
        this.respond = respond;
        for (int attempt = 0; ; attempt++)
        {
            var port = FreePort();
            listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                Root = new Uri($"http://127.0.0.1:{port}/");
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
        loop = Task.Run(ServeAsync);
    }

    /// <summary>The server root (the Azure endpoint); <see cref="OpenAIBase"/> is the OpenAI-style /v1 base.</summary>
    public Uri Root { get; }

    public Uri OpenAIBase => new(Root, "v1/");

    public IReadOnlyList<RecordedRequest> Requests => requests.ToList();

    public int RequestCount => Volatile.Read(ref count);

    static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => Handle(context));
        }
    }

    void Handle(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var body = JsonNode.Parse(reader.ReadToEnd()) as JsonObject ?? [];
        var headers = context.Request.Headers.AllKeys.Where(k => k is not null)
            .ToDictionary(k => k!, k => context.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase);
        var request = new RecordedRequest(context.Request.HttpMethod, context.Request.Url!.PathAndQuery, headers, body);
        requests.Enqueue(request);
        var index = Interlocked.Increment(ref count) - 1;
        ServerReply reply;
        try
        {
            reply = respond(request, index);
        }
        catch (Exception e)
        {
            reply = new ServerReply(500, $"test handler failed: {e.Message}");
        }
        var json = reply.Status == 200
            ? new JsonObject
            {
                ["id"] = $"chatcmpl-{index}",
                ["object"] = "chat.completion",
                ["created"] = 1700000000,
                ["model"] = (string?)body["model"] ?? "unknown",
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = reply.Content },
                    ["finish_reason"] = "stop",
                }),
                ["usage"] = new JsonObject { ["prompt_tokens"] = 10, ["completion_tokens"] = 5, ["total_tokens"] = 15 },
            }
            : new JsonObject { ["error"] = new JsonObject { ["message"] = reply.Content, ["type"] = "test_error", ["code"] = reply.Status.ToString() } };
        var bytes = Encoding.UTF8.GetBytes(json.ToJsonString());
        context.Response.StatusCode = reply.Status;
        context.Response.ContentType = "application/json";
        foreach (var (name, value) in reply.Headers ?? new Dictionary<string, string>()) context.Response.Headers[name] = value;
        context.Response.ContentLength64 = bytes.Length;
        context.Response.OutputStream.Write(bytes);
        context.Response.Close();
    }

    public void Dispose()
    {
        listener.Stop();
        listener.Close();
        loop.Wait(TimeSpan.FromSeconds(5));
    }
}
