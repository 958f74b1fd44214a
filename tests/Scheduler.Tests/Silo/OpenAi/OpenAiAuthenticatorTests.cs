using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Scheduler.Tests.Silo.Api;

namespace Scheduler.Tests.Silo.OpenAi;

/// <summary>What each kind of credential gets from the OpenAI door, over real HTTP: as on gRPC's InferenceService, a
/// valid key of the wrong kind (an admin key, the node token) is a 403 naming the kind wanted and is no failed login; a
/// key that is nobody's a 401. The door answered 401 'invalid API key' to an admin key and counted it against the
/// caller's address.</summary>
public sealed class OpenAiAuthenticatorTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    [Theory]
    [InlineData(SecuredSilo.ExtraAdminKey)]
    [InlineData(SecuredSilo.NodeToken)]
    public async Task Tenant_AnAdminKeyOrTheNodeToken_Is403PermissionDenied_NamingTheKindWanted(string key)
    {
        var (status, error) = await Models(silo, $"Bearer {key}");

        Assert.Equal(
            (HttpStatusCode.Forbidden, "permission_error", "permission_denied", "the OpenAI-compatible API needs a tenant's API key, not an admin key or the node token"),
            (status, error.GetProperty("type").GetString(), error.GetProperty("code").GetString(), error.GetProperty("message").GetString()));
    }

    [Theory]
    [InlineData("Bearer nobodys-key", "invalid API key")]
    [InlineData(null, "missing 'Authorization: Bearer <api-key>' header")]
    [InlineData("Basic YWNtZTprZXk=", "malformed 'Authorization' header: expected 'Bearer <api-key>'")]
    public async Task Tenant_NoValidKey_Is401InvalidApiKey(string? authorization, string message)
    {
        var (status, error) = await Models(silo, authorization);

        Assert.Equal(
            (HttpStatusCode.Unauthorized, "invalid_api_key", message),
            (status, error.GetProperty("code").GetString(), error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Tenant_AKeyOfTheWrongKind_IsNoFailedLogin_ThatWouldBlockItsAddress()
    {
        var guarded = new SecuredSilo(["--Scheduler:AuthFailureLimit=2", "--Scheduler:AuthFailureWindowSeconds=60"]);
        await guarded.InitializeAsync();
        try
        {
            // A tool pointed at the OpenAI door with the operator's admin key, over and over.
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal(HttpStatusCode.Forbidden, (await Models(guarded, $"Bearer {SecuredSilo.ExtraAdminKey}")).Status);
            }

            // A tenant's key this silo never checked still passes from that address: nothing was counted against it.
            using var admin = guarded.Admin();
            var secret = (await admin.CreateApiKeyAsync(SecuredSilo.Tenant)).Secret;
            Assert.Equal(HttpStatusCode.OK, (await Models(guarded, $"Bearer {secret}")).Status);
        }
        finally
        {
            await guarded.DisposeAsync();
        }
    }

    [Fact]
    public async Task Tenant_AuthorizationSentTwice_Is401SayingSo_AndIsNoFailedLogin()
    {
        var guarded = new SecuredSilo(["--Scheduler:AuthFailureLimit=2", "--Scheduler:AuthFailureWindowSeconds=60"]);
        await guarded.InitializeAsync();
        try
        {
            // Two header lines, as curl sends two -H options (a script's own and its tool's): read joined, they were the
            // key "k,Bearer k", answered "invalid API key" and counted as a guess, until the address was blocked.
            for (var i = 0; i < 4; i++)
            {
                var (status, error) = await ModelsWithHeaderLines(guarded, $"Bearer {SecuredSilo.ConfiguredKey}", $"Bearer {SecuredSilo.ConfiguredKey}");
                Assert.Equal(
                    (HttpStatusCode.Unauthorized, "invalid_request_error", "'Authorization' header must be sent once, got 2 values: send one 'Authorization: Bearer <api-key>'"),
                    (status, error.GetProperty("type").GetString(), error.GetProperty("message").GetString()));
            }

            // One line whose value joins two credentials (what a proxy, or .NET's HttpClient, makes of two) is refused alike.
            Assert.Equal(
                "'Authorization' header must be sent once, got 2 values: send one 'Authorization: Bearer <api-key>'",
                (await Models(guarded, $"Bearer {SecuredSilo.ConfiguredKey}, Bearer {SecuredSilo.ConfiguredKey}")).Error.GetProperty("message").GetString());

            // A tenant's key this silo never checked still passes from that address: nothing was counted against it.
            using var admin = guarded.Admin();
            var secret = (await admin.CreateApiKeyAsync(SecuredSilo.Tenant)).Secret;
            Assert.Equal(HttpStatusCode.OK, (await Models(guarded, $"Bearer {secret}")).Status);
        }
        finally
        {
            await guarded.DisposeAsync();
        }
    }

    /// <summary>GET /v1/models written on a socket with one <c>Authorization</c> line for each of
    /// <paramref name="authorizations"/> (HttpClient joins a header's values into one line): the answer's status and its
    /// OpenAI error object. HTTP/1.0, so the body is what comes before the connection closes.</summary>
    private static async Task<(HttpStatusCode Status, JsonElement Error)> ModelsWithHeaderLines(SecuredSilo silo, params string[] authorizations)
    {
        var address = new Uri(silo.OpenAiAddress);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var request = new StringBuilder($"GET /v1/models HTTP/1.0\r\nHost: {address.Authority}\r\n");
        foreach (var authorization in authorizations)
        {
            request.Append(CultureInfo.InvariantCulture, $"Authorization: {authorization}\r\n");
        }

        await using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.Append("\r\n").ToString()));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync();
        var status = (HttpStatusCode)int.Parse(response.Split(' ')[1], CultureInfo.InvariantCulture);
        var body = JsonDocument.Parse(response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]).RootElement;
        return (status, body.GetProperty("error").Clone());
    }

    /// <summary>GET /v1/models with the Authorization header exactly as given (or none): the answer's status and its
    /// OpenAI error object (an empty object when it succeeded).</summary>
    private static async Task<(HttpStatusCode Status, JsonElement Error)> Models(SecuredSilo silo, string? authorization)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, silo.OpenAiAddress + "/v1/models");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await http.SendAsync(request);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return (response.StatusCode, body.TryGetProperty("error", out var error) ? error.Clone() : JsonDocument.Parse("{}").RootElement);
    }
}
