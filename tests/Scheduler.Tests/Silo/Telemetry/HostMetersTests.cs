using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Silo.Hosting;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Silo.Telemetry;

/// <summary>
/// Two silos in one process (as the tests run them, and as a host beside in-process workers would): each /metrics shows
/// its own host's Kestrel series and none of the other's, and keeps its own when the other stops (a meter provider
/// listens by meter name, process-wide; the stream two meters of one name share ended with either: ci stop 46).
/// </summary>
public sealed class HostMetersTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Metrics_AnotherSiloInTheProcessStops_ShowsOnlyThisSilosKestrelSeries_AndKeepsThem()
    {
        // The other first: the stream of a name is made by the first meter of that name a provider sees.
        var other = await Start();
        var theirs = other.Services.GetRequiredService<ListeningAddresses>();
        await using var silo = await Start();
        var ours = silo.Services.GetRequiredService<ListeningAddresses>();
        using var http = new HttpClient();
        using var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(new Uri(theirs.OpenAi).Host, new Uri(theirs.OpenAi).Port);
            await Until(http, ours, samples => samples.Has("kestrel_active_connections", ("server_port", Port(ours.Http))),
                "this silo's HTTP port listed in its own /metrics");
            await Until(http, theirs, samples => samples.Sum("kestrel_active_connections", ("server_port", Port(theirs.OpenAi))) == 1,
                "the other silo counting the connection to its OpenAI port");

            var scrape = await PrometheusScrape.ReadAsync(http, ours.Http);
            Assert.False(scrape.Has("kestrel_active_connections", ("server_port", Port(theirs.OpenAi))), "the other silo's port is in this silo's /metrics");
        }
        finally
        {
            await other.StopAsync();
            await other.DisposeAsync();
        }

        // A stream ended with a meter is exported once more and then dropped: read past the exporter's cache, repeatedly.
        for (var scrape = 0; scrape < 5; scrape++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(400));
            var samples = await PrometheusScrape.ReadAsync(http, ours.Http);
            Assert.True(samples.Has("kestrel_active_connections", ("server_port", Port(ours.Http))),
                $"this silo's HTTP port missing from its /metrics {scrape + 1} scrapes after the other silo stopped");
        }

        await silo.StopAsync();
    }

    private static async Task<Microsoft.AspNetCore.Builder.WebApplication> Start()
    {
        var silo = SchedulerHost.Build(
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await silo.StartAsync();
        return silo;
    }

    private static string Port(string address) => new Uri(address).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static Task Until(HttpClient http, ListeningAddresses silo, Func<IReadOnlyList<PrometheusSample>, bool> holds, string what) =>
        Polling.Until(async () => holds(await PrometheusScrape.ReadAsync(http, silo.Http)), what, Wait, TimeSpan.FromMilliseconds(50));
}
