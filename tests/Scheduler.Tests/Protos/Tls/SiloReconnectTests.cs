using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Scheduler.Protos.Tls;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Protos.Tls;

/// <summary>
/// A channel to a silo that is down tries to connect again every couple of seconds, however long the silo has been
/// down. An operator probe (silo killed, restarted on its port 30 s later, Redis mode) found a worker re-registering
/// 15 s after the silo answered, and a bench's client failing UNAVAILABLE for seconds after a restarted silo answered:
/// gRPC's reconnect backoff had grown meanwhile, failing every call at once until its next attempt, and it grows to
/// 120 s. Both shapes of <see cref="SchedulerChannels.ToSilo"/> — a worker's (gRPC's own handler) and a client's (pings,
/// its own handler) — side by side, over real sockets to a port nothing listens on.
/// </summary>
public sealed class SiloReconnectTests
{
    [Fact]
    public async Task ToSilo_ASiloThatIsDown_IsDialledAgainEveryFewSeconds_AWorkersChannelAndAClients()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var clock = Stopwatch.StartNew();
        using var worker = SchedulerChannels.ToSilo($"http://127.0.0.1:{FreePort.Next()}", trustedCa: null, liveness: null);
        using var client = SchedulerChannels.ToSilo($"http://127.0.0.1:{FreePort.Next()}", trustedCa: null, ConnectionLiveness.ToSilo);

        var attempts = await Task.WhenAll(Attempts(worker, clock, stop.Token), Attempts(client, clock, stop.Token));

        // gRPC's default: attempts about 1, 1.6, 2.6, 4.1, 6.6, 10.5 s apart (±20%), so at most 2 from the 8th second to
        // the 20th; capped at 2 s (±20%), 5 or 6 (4 if one went unseen between two looks at the channel's state).
        var seen = new[] { ("worker's", attempts[0]), ("client's", attempts[1]) }.Select(c => (
            Channel: c.Item1,
            Late: c.Item2.Count(t => t > TimeSpan.FromSeconds(8)),
            All: string.Join(", ", c.Item2.Select(t => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)))));
        Assert.All(seen, c => Assert.True(c.Late >= 4, string.Join("; ", seen.Select(s => $"the {s.Channel} channel: {s.Late} attempts after 8 s, all at {s.All} s"))));
    }

    /// <summary>When the channel dialled again, while a call a second is made through it as a worker's heartbeats are,
    /// each failing at once while the channel waits out its backoff.</summary>
    private static async Task<List<TimeSpan>> Attempts(GrpcChannel channel, Stopwatch clock, CancellationToken stop)
    {
        var calls = new NodeRegistryService.NodeRegistryServiceClient(channel);
        List<TimeSpan> attempts = [];

        // Each attempt leaves the failure state: its time is when the channel dialled again.
        var watch = Task.Run(
            async () =>
            {
                var last = channel.State;
                while (!stop.IsCancellationRequested)
                {
                    await channel.WaitForStateChangedAsync(last, stop).ContinueWith(_ => { }, TaskScheduler.Default);
                    var now = channel.State;
                    if (last == ConnectivityState.TransientFailure && now != ConnectivityState.TransientFailure)
                    {
                        attempts.Add(clock.Elapsed);
                    }

                    last = now;
                }
            },
            CancellationToken.None);

        while (!stop.IsCancellationRequested)
        {
            try
            {
                await calls.HeartbeatAsync(new HeartbeatRequest { NodeId = "reconnect-node" }, deadline: DateTime.UtcNow.AddSeconds(1), cancellationToken: CancellationToken.None);
            }
            catch (RpcException)
            {
            }

            await Task.Delay(200, CancellationToken.None);
        }

        await watch;
        return attempts;
    }
}
