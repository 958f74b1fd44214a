using System.Diagnostics;
using Grpc.Core;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Scheduler.Worker.Registration;

namespace Scheduler.Tests.Worker.Registration;

/// <summary>
/// A worker's channel to a silo that is down tries to connect again every couple of seconds, however long the silo has
/// been down. An operator probe (silo killed, restarted on its port 30 s later, Redis mode) found the worker
/// re-registering 15 s after the silo answered: gRPC's reconnect backoff had grown meanwhile, failing every heartbeat at
/// once until its next attempt, and it grows to 120 s. A real socket to a port nothing listens on.
/// </summary>
public sealed class SchedulerReconnectTests
{
    [Fact]
    public async Task AChannelToASiloThatIsDown_KeepsTryingToConnect_EveryFewSeconds()
    {
        using var channel = SchedulerEndpoints.Open($"http://127.0.0.1:{FreePort.Next()}", trustedCa: null);
        var client = new NodeRegistryService.NodeRegistryServiceClient(channel);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var clock = Stopwatch.StartNew();
        List<TimeSpan> attempts = [];

        // Each attempt leaves the failure state: its time is when the channel dialled again.
        var watch = Task.Run(async () =>
        {
            var last = channel.State;
            while (!stop.IsCancellationRequested)
            {
                await channel.WaitForStateChangedAsync(last, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                var now = channel.State;
                if (last == ConnectivityState.TransientFailure && now != ConnectivityState.TransientFailure)
                {
                    lock (attempts)
                    {
                        attempts.Add(clock.Elapsed);
                    }
                }

                last = now;
            }
        });

        // Heartbeats as a worker sends them, each failing at once while the channel waits out its backoff.
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await client.HeartbeatAsync(new HeartbeatRequest { NodeId = "reconnect-node" }, deadline: DateTime.UtcNow.AddSeconds(1));
            }
            catch (RpcException)
            {
            }

            await Task.Delay(200, CancellationToken.None);
        }

        await watch;

        // gRPC's default: attempts about 1, 1.6, 2.6, 4.1, 6.6, 10.5 s apart (±20%), so at most 2 from the 8th second to
        // the 20th; capped at 2 s (±20%), 5 or 6 (4 if one went unseen between two looks at the channel's state).
        var late = attempts.Count(t => t > TimeSpan.FromSeconds(8));
        Assert.True(late >= 4, $"{late} attempts after 8 s; all at {string.Join(", ", attempts.Select(t => t.TotalSeconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))} s");
    }
}
