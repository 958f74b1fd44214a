using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>What clients other than OpenAI's SDKs send, as raw bytes over HTTP to the live silo: vLLM's sampling
/// fields (<c>top_k</c>, read; <c>guided_json</c> and the like, refused naming them), a string field holding bytes that
/// are not UTF-8, OpenAI's <c>top_p</c> 0, and a body in a charset other than UTF-8.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class OpenAiClientFieldTests(SchedulerCluster cluster)
{
    [Theory]
    [InlineData("model")]
    [InlineData("messages[0].role")]
    [InlineData("user")]
    public async Task ChatCompletion_AStringFieldWithBytesThatAreNotUtf8_Is400NamingIt_Not500(string param)
    {
        // A raw 0xFF in the model, a role or the user was a 500 "internal error" (and an error logged as unhandled).
        byte[] bad = [.. "a"u8, 0xFF, 0xFE];
        var model = param == "model" ? bad : Encoding.UTF8.GetBytes(SchedulerCluster.Model);
        var role = param == "messages[0].role" ? bad : "user"u8.ToArray();
        var user = param == "user" ? bad : "u"u8.ToArray();
        byte[] body =
        [
            .. "{\"model\":\""u8, .. model, .. "\",\"messages\":[{\"role\":\""u8, .. role,
            .. "\",\"content\":\"hi\"}],\"max_tokens\":2,\"user\":\""u8, .. user, .. "\"}"u8,
        ];

        var (status, error) = await Post(body);

        Assert.Equal((HttpStatusCode.BadRequest, param), (status, error.GetProperty("param").GetString()));
        Assert.Contains("is not valid UTF-8 text", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatCompletion_TopK_IsTheJobsSampling_VllmsMinusOneBeingZero()
    {
        // top_k was ignored, so the same Idempotency-Key with another top_k was the same job, and -2 was taken. The
        // idempotency check compares the jobs' sampling, which is how top_k shows outside the engine.
        var key = "top-k-" + Guid.NewGuid().ToString("N");
        var (first, firstBody) = await Post(Chat(topK: 5), key);
        var (other, otherError) = await Post(Chat(topK: 6), key);
        var minusOneKey = "top-k-" + Guid.NewGuid().ToString("N");
        var (minusOne, minusOneBody) = await Post(Chat(topK: -1), minusOneKey);
        var (zero, zeroBody) = await Post(Chat(topK: 0), minusOneKey);
        var (negative, negativeError) = await Post(Chat(topK: -2));

        Assert.Equal(HttpStatusCode.OK, first);
        Assert.Equal(2, firstBody.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal((HttpStatusCode.Conflict, "idempotency_key_reused"), (other, otherError.GetProperty("code").GetString()));
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (minusOne, zero));
        Assert.Equal(minusOneBody.GetProperty("id").GetString(), zeroBody.GetProperty("id").GetString());
        Assert.Equal((HttpStatusCode.BadRequest, "top_k"), (negative, negativeError.GetProperty("param").GetString()));
    }

    [Theory]
    [InlineData("guided_json", """{"type":"object"}""")]
    [InlineData("repetition_penalty", "1.2")]
    [InlineData("min_p", "0.05")]
    public async Task ChatCompletion_AVllmFieldAskingForWhatIsNotSupported_Is400NamingIt(string field, string value)
    {
        // Ignored before: a client asking vLLM's way for JSON got free text, with a 200.
        var body = Encoding.UTF8.GetBytes(
            $$"""{"model":"{{SchedulerCluster.Model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"{{field}}":{{value}}}""");

        var (status, error) = await Post(body);

        Assert.Equal((HttpStatusCode.BadRequest, field), (status, error.GetProperty("param").GetString()));
    }

    [Theory]
    [InlineData("tab\tinside")]
    [InlineData("space inside")]
    [InlineData("caf\u00E9")]
    [InlineData("emoji-\U0001F600")]
    public async Task ChatCompletion_IdempotencyKeyOutsideVisibleAscii_Is400NamingTheHeader_AsGrpcRefusesIt(string key)
    {
        // Taken before (as UTF-8, how Node's and Python's httpx send it), as gRPC took a NUL that HTTP cannot carry.
        var (status, error) = await Post(Chat(topK: 1), [key + Guid.NewGuid().ToString("N")]);

        var refused = key.EnumerateRunes().First(r => r.Value is < '!' or > '~');
        Assert.Equal(
            (HttpStatusCode.BadRequest, "Idempotency-Key",
                $"Idempotency-Key: must be visible ASCII characters without spaces, U+0021 to U+007E (the OpenAI-compatible API carries it in an 'Idempotency-Key' header); got U+{refused.Value:X4}"),
            (status, error.GetProperty("param").GetString(), error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task ChatCompletion_TwoIdempotencyKeyHeaderLines_Is400NamingTheHeader_NotAJoinedKey()
    {
        // Two lines (curl -H twice, a proxy adding its own) were read as one key "a,b", which neither sender meant.
        // HttpClient would join them into one line itself, so the request is written by hand.
        var address = new Uri(cluster.OpenAiAddress);
        var body = Encoding.UTF8.GetString(Chat(topK: 1));
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        await using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: {address.Authority}\r\nAuthorization: Bearer {SchedulerCluster.Tenants[0].Key}\r\n" +
            $"Content-Type: application/json\r\nIdempotency-Key: two-a-{Guid.NewGuid():N}\r\nIdempotency-Key: two-b\r\n" +
            $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}"));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync();

        Assert.StartsWith("HTTP/1.1 400 ", response, StringComparison.Ordinal);
        Assert.Contains(
            """{"error":{"message":"Idempotency-Key: must be sent once, got 2 values","type":"invalid_request_error","param":"Idempotency-Key","code":null}}""",
            response,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamedChat_VllmsContinuousUsageStats_Is400NamingIt_FalseAsksForNothing()
    {
        // Ignored before: a vLLM client waiting for usage on every chunk got it only at the end, with include_usage.
        static byte[] Streamed(string continuous) => Encoding.UTF8.GetBytes(
            $$$"""{"model":"{{{SchedulerCluster.Model}}}","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":{{{continuous}}}}}""");

        var (status, error) = await Post(Streamed("true"));
        var (neutral, events) = await PostStreamed(Streamed("false"));

        Assert.Equal(
            (HttpStatusCode.BadRequest, "stream_options.continuous_usage_stats",
                "stream_options.continuous_usage_stats: usage on every chunk is not supported; include_usage sends it in a last chunk"),
            (status, error.GetProperty("param").GetString(), error.GetProperty("message").GetString()));
        Assert.Equal(HttpStatusCode.OK, neutral);
        Assert.EndsWith("data: [DONE]\n\n", events, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatCompletion_UserOrSessionIdLongerThanTheIdentifierLimit_Is400NamingIt_AtTheLimitTaken()
    {
        // A 100 KB user was taken and put on the submission's trace span (enduser.id), exported with every span. The
        // limit is in characters: 256 emoji (512 UTF-16 code units) are taken.
        static byte[] WithUser(string user) => Encoding.UTF8.GetBytes(
            $$"""{"model":"{{SchedulerCluster.Model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"user":"{{user}}"}""");

        var (longUser, userError) = await Post(WithUser(new string('u', 257)));
        var (emojiUser, _) = await Post(WithUser(string.Concat(Enumerable.Repeat("\U0001F600", 256))));
        var (longSession, sessionError) = await Post(Chat(topK: 1), [("x-session-id", new string('s', 257))]);
        var (session, _) = await Post(Chat(topK: 1), [("x-session-id", new string('s', 256))]);

        Assert.Equal(
            (HttpStatusCode.BadRequest, "user", "user: is longer than 256 characters"),
            (longUser, userError.GetProperty("param").GetString(), userError.GetProperty("message").GetString()));
        Assert.Equal(
            (HttpStatusCode.BadRequest, "x-session-id", "x-session-id: is longer than 256 characters"),
            (longSession, sessionError.GetProperty("param").GetString(), sessionError.GetProperty("message").GetString()));
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (emojiUser, session));
    }

    [Fact]
    public async Task ChatCompletion_TopPZero_IsAnswered_AsOpenAiTakesIt()
    {
        // OpenAI's top_p lies in [0, 1] (0: the most likely token alone); 0 was a 400 "must be greater than 0".
        var (status, answer) = await Post(Encoding.UTF8.GetBytes(
            $$"""{"model":"{{SchedulerCluster.Model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"top_p":0}"""));

        Assert.True(status == HttpStatusCode.OK, answer.ToString());
        Assert.Equal(2, answer.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Theory]
    [InlineData("utf-16")]
    [InlineData("UTF-16BE")]
    [InlineData("\"utf-32\"")]
    [InlineData("iso-8859-1")]
    public async Task ChatCompletion_BodyInTheCharsetItsContentTypeNames_IsReadAsThatText(string charset)
    {
        // Parsed as UTF-8 whatever its charset, a UTF-16 body (a .NET StringContent made with Encoding.Unicode) was a 400
        // "'0xFF' is an invalid start of a value", and a Latin-1 "café" a 400 "not valid UTF-8 text". The same
        // Idempotency-Key sent again as UTF-8 is the same job only if the prompt read is the same text.
        var json = $$"""{"model":"{{SchedulerCluster.Model}}","messages":[{"role":"user","content":"café crème"}],"max_tokens":2}""";
        var encoding = Encoding.GetEncoding(charset.Trim('"'));
        var key = "charset-" + Guid.NewGuid().ToString("N");

        var (status, text) = await Send([.. encoding.GetPreamble(), .. encoding.GetBytes(json)], [("Idempotency-Key", key)], $"application/json; charset={charset}");
        var (again, utf8) = await Post(Encoding.UTF8.GetBytes(json), key);

        Assert.True(status == HttpStatusCode.OK, text);
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.Equal(JsonDocument.Parse(text).RootElement.GetProperty("id").GetString(), utf8.GetProperty("id").GetString());
    }

    [Fact]
    public async Task ChatCompletion_BodyInACharsetNotDecoded_Is415NamingIt()
    {
        var (status, text) = await Send(Chat(topK: 1), [], "application/json; charset=x-no-such-charset");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.StartsWith(
            "Content-Type 'application/json; charset=x-no-such-charset' is not supported: charset 'x-no-such-charset' is not one this API decodes",
            JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("message").GetString(),
            StringComparison.Ordinal);
    }

    private static byte[] Chat(int topK) => Encoding.UTF8.GetBytes(
        $$"""{"model":"{{SchedulerCluster.Model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"top_k":{{topK}}}""");

    /// <summary>Posts <paramref name="body"/> to /v1/chat/completions: the status and the answer, or its <c>error</c>.</summary>
    private Task<(HttpStatusCode Status, JsonElement Answer)> Post(byte[] body, string? idempotencyKey = null) =>
        Post(body, idempotencyKey is null ? [] : [idempotencyKey]);

    /// <summary>Posts with an <c>Idempotency-Key</c> header for each of <paramref name="idempotencyKeys"/>, sent as
    /// UTF-8 (.NET's default refuses a value that is not ASCII).</summary>
    private Task<(HttpStatusCode Status, JsonElement Answer)> Post(byte[] body, string[] idempotencyKeys) =>
        Post(body, idempotencyKeys.Select(k => ("Idempotency-Key", k)));

    /// <summary>Posts with each of <paramref name="headers"/>, sent as UTF-8.</summary>
    private async Task<(HttpStatusCode Status, JsonElement Answer)> Post(byte[] body, IEnumerable<(string Name, string Value)> headers)
    {
        var (status, text) = await Send(body, headers);
        var answer = JsonDocument.Parse(text).RootElement;
        return (status, answer.TryGetProperty("error", out var error) ? error : answer);
    }

    /// <summary>Posts <paramref name="body"/>, a streamed request: the status and the events as text.</summary>
    private Task<(HttpStatusCode Status, string Events)> PostStreamed(byte[] body) => Send(body, []);

    private async Task<(HttpStatusCode Status, string Text)> Send(byte[] body, IEnumerable<(string Name, string Value)> headers, string contentType = "application/json")
    {
        using var handler = new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => Encoding.UTF8 };
        using var http = new HttpClient(handler);
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var message = new HttpRequestMessage(HttpMethod.Post, cluster.OpenAiAddress + "/v1/chat/completions") { Content = content };
        message.Headers.Authorization = new("Bearer", SchedulerCluster.Tenants[0].Key);
        foreach (var (name, value) in headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await http.SendAsync(message);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
