using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Silo.Hosting;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>
/// Scheduler:MaxStreamsPerConnection decides how many streams one client connection has open at once: 150 health
/// watches (each a long-lived server stream, as a token stream is) on a channel held to one connection.
/// </summary>
public sealed class StreamLimitTests
{
    private const int Streams = 150;

    [Fact]
    public async Task OneConnection_LimitAbove150_All150StreamsOpenAtOnce()
    {
        var opened = await OpenStreams(maxStreamsPerConnection: 200, settle: TimeSpan.Zero);

        Assert.Equal(Streams, opened);
    }

    [Fact]
    public async Task OneConnection_KestrelDefaultOf100_OnlyHundredOpenAndTheRestWait()
    {
        var opened = await OpenStreams(maxStreamsPerConnection: 100, settle: TimeSpan.FromSeconds(2));

        Assert.Equal(100, opened);
    }

    /// <summary>Opens <see cref="Streams"/> watches and returns how many got their first message (in 30 s, or by
    /// <paramref name="settle"/> after the first 100 did when fewer are expected).</summary>
    private static async Task<int> OpenStreams(int maxStreamsPerConnection, TimeSpan settle)
    {
        await using var silo = SchedulerHost.Build(
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            $"--Scheduler:MaxStreamsPerConnection={maxStreamsPerConnection}",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await silo.StartAsync();
        try
        {
            // One connection: without this the client opens a second one once the first is full.
            using var channel = GrpcChannel.ForAddress(
                silo.Services.GetRequiredService<ListeningAddresses>().Grpc,
                new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false }, DisposeHttpClient = true });
            var health = new Health.HealthClient(channel);
            using var stop = new CancellationTokenSource();
            var opened = 0;
            var watches = Enumerable.Range(0, Streams).Select(async _ =>
            {
                using var call = health.Watch(new HealthCheckRequest(), cancellationToken: stop.Token);
                try
                {
                    if (await call.ResponseStream.MoveNext(stop.Token))
                    {
                        Interlocked.Increment(ref opened);
                    }

                    await call.ResponseStream.MoveNext(stop.Token);
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled)
                {
                    // Ended by the test.
                }
            }).ToList();

            var target = settle == TimeSpan.Zero ? Streams : 100;
            await Polling.Until(() => Volatile.Read(ref opened) >= target, $"{target} streams open", TimeSpan.FromSeconds(30));
            await Task.Delay(settle);
            var result = Volatile.Read(ref opened);
            await stop.CancelAsync();
            await Task.WhenAll(watches);
            return result;
        }
        finally
        {
            await silo.StopAsync();
        }
    }
}
