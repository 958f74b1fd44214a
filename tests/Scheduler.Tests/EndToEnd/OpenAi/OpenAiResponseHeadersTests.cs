using System.Net;
using System.Text;
using System.Text.Json;

namespace Scheduler.Tests.EndToEnd.OpenAi;

/// <summary>The headers every answer of the OpenAI door has or has not, over HTTP to the live silo: OpenAI's
/// <c>x-request-id</c> on every response, and no CORS.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class OpenAiResponseHeadersTests(SchedulerCluster cluster)
{
    private const string RequestId = "x-request-id";

    [Fact]
    public async Task ARequestThatMadeAJob_HasTheJobIdAsItsRequestId_WhichGetJobFinds()
    {
        // There was no x-request-id: a client logging it for support (the OpenAI SDKs' request id) logged nothing.
        using var response = await Send(HttpMethod.Post, "/v1/completions", new { model = SchedulerCluster.Model, prompt = "x", max_tokens = 2 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = Header(response, RequestId);
        Assert.Equal((id, id), (Header(response, "x-scheduler-job-id"), JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()));
        using var grpc = cluster.Tenant(0);
        Assert.Equal(id, (await grpc.GetAsync(id)).JobId);
    }

    [Fact]
    public async Task EveryOtherResponse_HasAFreshRequestId()
    {
        using var models = await Send(HttpMethod.Get, "/v1/models");
        using var again = await Send(HttpMethod.Get, "/v1/models");
        using var unauthenticated = await Send(HttpMethod.Get, "/v1/models", key: null);
        using var invalid = await Send(HttpMethod.Post, "/v1/chat/completions", new { model = SchedulerCluster.Model });
        using var offTheApi = await Send(HttpMethod.Get, "/chat/completions");
        using var wrongMethod = await Send(HttpMethod.Get, "/v1/completions");

        Assert.Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.Unauthorized, HttpStatusCode.BadRequest, HttpStatusCode.NotFound, HttpStatusCode.MethodNotAllowed],
            new[] { models, again, unauthenticated, invalid, offTheApi, wrongMethod }.Select(r => r.StatusCode));
        var ids = new[] { models, again, unauthenticated, invalid, offTheApi, wrongMethod }.Select(r => Header(r, RequestId)).ToList();
        Assert.All(ids, id => Assert.Matches("^req-[0-9a-f]{32}$", id));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public async Task AClientsOwnRequestId_IsEchoed_AsVllmDoes_TheJobIdStaysInItsOwnHeader()
    {
        var own = new Dictionary<string, string> { [RequestId] = "gateway-7f3a/abc" };

        using var completion = await Send(HttpMethod.Post, "/v1/completions", new { model = SchedulerCluster.Model, prompt = "x", max_tokens = 2 }, headers: own);
        using var models = await Send(HttpMethod.Get, "/v1/models", headers: own);

        Assert.Equal((HttpStatusCode.OK, "gateway-7f3a/abc"), (completion.StatusCode, Header(completion, RequestId)));
        Assert.StartsWith("job-", Header(completion, "x-scheduler-job-id"), StringComparison.Ordinal);
        Assert.Equal("gateway-7f3a/abc", Header(models, RequestId));
    }

    [Fact]
    public async Task AClientsRequestIdTooLong_Is400NamingIt_NotCutShort()
    {
        using var response = await Send(HttpMethod.Get, "/v1/models", headers: new() { [RequestId] = new string('r', 257) });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal(("x-request-id", "x-request-id: must be at most 256 characters"), (error.GetProperty("param").GetString(), error.GetProperty("message").GetString()));
        Assert.Matches("^req-[0-9a-f]{32}$", Header(response, RequestId));
    }

    [Fact]
    public async Task AClientsRequestIdThatIsNotAscii_Is400NamingIt_Not500()
    {
        // Sent as UTF-8, which Kestrel decodes ("é"): echoing it threw as the response started, a 500 with an empty body.
        using var handler = new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => Encoding.UTF8 };
        using var http = new HttpClient(handler);
        using var message = new HttpRequestMessage(HttpMethod.Get, cluster.OpenAiAddress + "/v1/models");
        message.Headers.Authorization = new("Bearer", SchedulerCluster.Tenants[0].Key);
        message.Headers.TryAddWithoutValidation(RequestId, "trace-\u00e9t\u00e9");

        using var response = await http.SendAsync(message);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal(
            ("x-request-id", "x-request-id: must be printable ASCII, as it is echoed in the response's headers"),
            (error.GetProperty("param").GetString(), error.GetProperty("message").GetString()));
        Assert.Matches("^req-[0-9a-f]{32}$", Header(response, RequestId));
    }

    [Fact]
    public async Task Head_OnTheModelRoutes_AnswersAsGetWouldWithoutABody()
    {
        // HEAD was a 405 (Allow: GET): an uptime monitor or link checker probing /v1/models read the door as down.
        using var list = await Send(HttpMethod.Get, "/v1/models");
        using var headList = await Send(HttpMethod.Head, "/v1/models");
        using var headModel = await Send(HttpMethod.Head, "/v1/models/" + SchedulerCluster.Model);
        using var headUnknown = await Send(HttpMethod.Head, "/v1/models/no-such-model");
        using var headUnauthenticated = await Send(HttpMethod.Head, "/v1/models", key: null);

        Assert.Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.NotFound, HttpStatusCode.Unauthorized],
            new[] { headList, headModel, headUnknown, headUnauthenticated }.Select(r => r.StatusCode));
        Assert.Equal(
            ((await list.Content.ReadAsByteArrayAsync()).Length, "application/json", 0),
            (headList.Content.Headers.ContentLength ?? -1, headList.Content.Headers.ContentType?.MediaType, (await headList.Content.ReadAsByteArrayAsync()).Length));
        Assert.Matches("^req-[0-9a-f]{32}$", Header(headList, RequestId));
    }

    [Fact]
    public async Task ABrowsersPreflightAndCrossOriginRequest_GetNoCorsHeaders_AsDocumented()
    {
        // No CORS on purpose (docs/operations.md): a page calling with a tenant's key would show the key to its visitors.
        // If this starts failing, CORS was turned on: the docs must say how and why.
        var origin = new Dictionary<string, string> { ["Origin"] = "https://example.com", ["Access-Control-Request-Method"] = "POST" };
        using var preflight = await Send(HttpMethod.Options, "/v1/chat/completions", key: null, headers: origin);
        using var request = await Send(HttpMethod.Get, "/v1/models", headers: new() { ["Origin"] = "https://example.com" });

        Assert.Equal((HttpStatusCode.MethodNotAllowed, HttpStatusCode.OK), (preflight.StatusCode, request.StatusCode));
        Assert.All(new[] { preflight, request }, r => Assert.DoesNotContain(r.Headers, h => h.Key.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase)));
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.Single() : $"(no {name})";

    private async Task<HttpResponseMessage> Send(
        HttpMethod method, string path, object? body = null, string? key = "", Dictionary<string, string>? headers = null)
    {
        using var http = new HttpClient();
        using var message = new HttpRequestMessage(method, cluster.OpenAiAddress + path);
        if (body is not null)
        {
            message.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }

        if (key is not null)
        {
            message.Headers.Authorization = new("Bearer", key.Length > 0 ? key : SchedulerCluster.Tenants[0].Key);
        }

        foreach (var (name, value) in headers ?? [])
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        var response = await http.SendAsync(message);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}
