using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Silo.Hosting;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>
/// Scheduler:MaxConnectionsPerPort over loopback: a silo that takes 2 connections a port, with 2 idle ones open on its
/// OpenAI port, closes a third there at once and counts it in Kestrel's metric, while its HTTP port (the probes',
/// /metrics) still takes its own.
/// </summary>
public sealed class ConnectionLimitTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task OpenAiPort_AtTheLimit_ClosesTheNextConnectionUnread_CountsIt_AndOtherPortsServe()
    {
        await using var silo = SchedulerHost.Build(
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            "--Scheduler:MaxConnectionsPerPort=2",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await silo.StartAsync();
        try
        {
            var addresses = silo.Services.GetRequiredService<ListeningAddresses>();
            var openAi = new Uri(addresses.OpenAi);
            using var http = new HttpClient();
            using var first = await Connect(openAi);
            using var second = await Connect(openAi);

            // Kestrel takes accepted connections on the thread pool, in no set order: until both are counted, a third
            // could be counted before the second and the second be the one closed (ci130, on a loaded machine).
            await UntilMetric(http, addresses, $$"""kestrel_active_connections\{[^}]*server_port="{{openAi.Port}}"[^}]*\} 2\b""",
                "the two connections counted on the OpenAI port");
            using var third = await Connect(openAi);

            Assert.True(await ClosedByServer(third), "the third connection was left open");
            Assert.Equal("\"ok\"", await http.GetStringAsync(addresses.Http + "/healthz"));
            await UntilMetric(http, addresses, $$"""kestrel_rejected_connections_total\{[^}]*server_port="{{openAi.Port}}"[^}]*\} 1\b""",
                "the third connection counted as rejected");
        }
        finally
        {
            await silo.StopAsync();
        }
    }

    // Polled: the exporter answers a scrape from its cache for a moment, so one read can predate the change. A timeout
    // shows Kestrel's lines of the last scrape, so a failure says what was counted instead.
    private static async Task UntilMetric(HttpClient http, ListeningAddresses addresses, string pattern, string what)
    {
        var scrape = "";
        try
        {
            await Polling.Until(
                async () => Regex.IsMatch(scrape = await http.GetStringAsync(addresses.Http + "/metrics"), pattern),
                what, Wait, TimeSpan.FromMilliseconds(50));
        }
        catch (Xunit.Sdk.XunitException e)
        {
            var kestrel = scrape.Split('\n').Where(line => line.StartsWith("kestrel_", StringComparison.Ordinal));
            throw new Xunit.Sdk.XunitException($"{e.Message}; Kestrel's lines of the last scrape:\n{string.Join('\n', kestrel)}");
        }
    }

    private static async Task<TcpClient> Connect(Uri address)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        return tcp;
    }

    /// <summary>True when the server ends the connection (a close or a reset) within <see cref="Wait"/>, having sent
    /// nothing.</summary>
    private static async Task<bool> ClosedByServer(TcpClient tcp)
    {
        using var bound = new CancellationTokenSource(Wait);
        try
        {
            return await tcp.GetStream().ReadAsync(new byte[1], bound.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
