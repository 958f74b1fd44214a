using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Silo.Api;
using Scheduler.Silo.Hosting;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Silo.Api;

/// <summary>
/// Scheduler:MaxRequestBodyBytesInFlight over the OpenAI door of a real silo, with raw HTTP/1.0 on loopback so a body can
/// be left half sent: a silo whose largest body is 64 KiB and whose budget is 100,000 bytes holds one body of 60,000
/// bytes that is still arriving, and a second as large would pass the budget; a tenant holds at most 65,536 bytes of it,
/// so a body of 10,000 bytes more passes the tenant's share alone.
/// </summary>
[Collection(ProcessMetricsCollection.Name)]
public sealed class RequestBodyBudgetTests : IAsyncLifetime
{
    private const int LargestBody = 64 << 10;
    private const int Budget = 100_000;
    private const int HeldBody = 60_000;
    private const int NextBody = 60_000;
    private const int PerTenant = 65_536;
    private const int SmallBody = 10_000;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private readonly SecuredSilo _silo = new(
    [
        $"--Scheduler:MaxReceiveMessageBytes={LargestBody}", $"--Scheduler:MaxRequestBodyBytesInFlight={Budget}",
        $"--Scheduler:MaxRequestBodyBytesPerTenant={PerTenant}", .. SecuredSilo.OtherTenant,
    ]);

    public Task InitializeAsync() => _silo.InitializeAsync();

    public Task DisposeAsync() => _silo.DisposeAsync();

    [Fact]
    public async Task Reserve_OverTheBudget_Is503WithRetryAfterNamingTheSetting_BeforeTheBodyIsSent_AndIsCounted()
    {
        using var holder = await StartBody(HeldBody);
        await Polling.Until(() => Held() == HeldBody, "the first body holds its bytes", Wait);

        // Only the head: the answer comes without a byte of the body.
        var refused = await Answer(NextBody, sendBody: false);

        Assert.Equal(503, refused.Status);
        Assert.Equal("1", refused.Headers["retry-after"]);
        Assert.Equal("1000", refused.Headers["retry-after-ms"]);
        var error = JsonDocument.Parse(refused.Body).RootElement.GetProperty("error");
        Assert.Equal(("server_error", "server_is_overloaded"), (error.GetProperty("type").GetString(), error.GetProperty("code").GetString()));
        Assert.StartsWith($"this silo is reading as many request bodies as it holds at once ({Budget} bytes); ", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        // It goes to tenants: no server setting named.
        Assert.DoesNotContain("Scheduler:", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HeldBody, Held());
        var metrics = await _silo.MetricsText();
        Assert.Matches("scheduler_request_body_refused_total\\{[^}]*bound=\"silo\"[^}]*\\} 1\n", metrics);
        Assert.Contains($"scheduler_request_body_held_bytes{{otel_scope_name=\"Scheduler\"}} {HeldBody}\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reserve_ABodyParsed_GivesItsBytesBack()
    {
        using (var holder = await StartBody(HeldBody))
        {
            await Polling.Until(() => Held() == HeldBody, "the first body holds its bytes", Wait);
            await holder.GetStream().WriteAsync(Body(HeldBody).AsMemory(Head.Length));
            Assert.Equal(404, (await Read(holder.GetStream())).Status);
        }

        Assert.Equal(0, Held());
        Assert.Equal(404, (await Answer(NextBody, sendBody: true)).Status);
    }

    [Fact]
    public async Task Reserve_AClientGoneMidBody_GivesItsBytesBack()
    {
        using (var holder = await StartBody(HeldBody))
        {
            await Polling.Until(() => Held() == HeldBody, "the first body holds its bytes", Wait);
            holder.Client.LingerState = new LingerOption(true, 0);
        }

        await Polling.Until(() => Held() == 0, "the abandoned body's bytes are back", Wait);
        Assert.Equal(404, (await Answer(NextBody, sendBody: true)).Status);
    }

    [Fact]
    public async Task Reserve_OverTheTenantsShare_Is503ForThatTenantAlone()
    {
        // 60,000 of the tenant's 65,536 bytes held; the silo's budget has 40,000 left.
        using var holder = await StartBody(HeldBody);
        await Polling.Until(() => Held() == HeldBody, "the first body holds its bytes", Wait);

        var refused = await Answer(SmallBody, sendBody: false);

        Assert.Equal(503, refused.Status);
        Assert.Equal("1", refused.Headers["retry-after"]);
        var error = JsonDocument.Parse(refused.Body).RootElement.GetProperty("error");
        Assert.Equal(("server_error", "server_is_overloaded"), (error.GetProperty("type").GetString(), error.GetProperty("code").GetString()));
        Assert.Equal(
            $"this silo is reading as many of this tenant's request bodies as one tenant may hold at once ({PerTenant} bytes); "
            + $"this request's body of up to {SmallBody} bytes was not read; retry after 1000 ms", error.GetProperty("message").GetString());
        Assert.Equal(HeldBody, Held());

        // Another tenant's body as large is read.
        Assert.Equal(404, (await Answer(SmallBody, sendBody: true, SecuredSilo.OtherTenantKey)).Status);
    }

    // A model the silo does not serve: a body read whole and parsed is answered 404 model_not_found.
    private const string Head = """{"model":"no-such-model","prompt":" """;

    private long Held() => _silo.Service<RequestBodyBudget>().Held;

    /// <summary>A JSON completion request of exactly <paramref name="length"/> bytes.</summary>
    private static byte[] Body(int length) =>
        Encoding.ASCII.GetBytes(Head + new string('a', length - Head.Length - 2) + "\"}");

    /// <summary>A connection that has sent a completion request's head and the first bytes of its body.</summary>
    private async Task<TcpClient> StartBody(int length)
    {
        var tcp = await Connect();
        await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes(RequestHead(length) + Head));
        return tcp;
    }

    private async Task<(int Status, Dictionary<string, string> Headers, string Body)> Answer(int length, bool sendBody, string key = SecuredSilo.ConfiguredKey)
    {
        using var tcp = await Connect();
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(RequestHead(length, key)));
        if (sendBody)
        {
            await stream.WriteAsync(Body(length));
        }

        return await Read(stream);
    }

    private async Task<TcpClient> Connect()
    {
        var address = new Uri(_silo.OpenAiAddress);
        var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        return tcp;
    }

    private string RequestHead(int length, string key = SecuredSilo.ConfiguredKey) =>
        $"POST /v1/completions HTTP/1.0\r\nHost: {new Uri(_silo.OpenAiAddress).Authority}\r\nAuthorization: Bearer {key}\r\n"
        + $"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n";

    /// <summary>An HTTP/1.0 answer with a JSON body, read until the body is whole (the server would only end the connection
    /// after it waited for a body never sent): status, headers (lower-case names) and body.</summary>
    private static async Task<(int Status, Dictionary<string, string> Headers, string Body)> Read(NetworkStream stream)
    {
        using var bound = new CancellationTokenSource(Wait);
        var answer = "";
        var buffer = new byte[4096];
        int headEnd;
        while ((headEnd = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal)) < 0 || !IsWholeJson(answer[(headEnd + 4)..]))
        {
            var read = await stream.ReadAsync(buffer, bound.Token);
            Assert.True(read > 0, $"the connection ended within an answer: '{answer}'");
            answer += Encoding.UTF8.GetString(buffer, 0, read);
        }

        var lines = answer[..headEnd].Split("\r\n");
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        return (int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture), headers, answer[(headEnd + 4)..]);
    }

    private static bool IsWholeJson(string body)
    {
        try
        {
            using var _ = JsonDocument.Parse(body);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
