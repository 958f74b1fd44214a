using Microsoft.Extensions.Logging.Abstractions;
using Scheduler.Silo.Hosting;
using Scheduler.Silo.Persistence;
using Scheduler.Tests.Faults;
using StackExchange.Redis;

namespace Scheduler.Tests.Silo.Persistence;

/// <summary>The watch that ends a silo whose store lost its data, against a real redis-server: an outage (Redis paused)
/// is not a loss, a FLUSHALL is.</summary>
public sealed class StoreLossWatchTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task RedisPaused_DoesNotHalt_RedisFlushed_HaltsWithTheStoreLostExitCode()
    {
        await using var redis = await RedisServer.StartAsync();

        // Short timeouts, so the checks during the pause fail (as they do in a real outage) many times over.
        var options = ConfigurationOptions.Parse($"{redis.Endpoint},allowAdmin=true");
        options.AsyncTimeout = options.SyncTimeout = 300;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        var halt = new RecordingHalt();
        var marker = new StoreMarker(() => connection, "svc");
        using var watch = new StoreLossWatch(marker, Interval, halt, TimeProvider.System, NullLogger<StoreLossWatch>.Instance);
        var lifecycle = new RecordingLifecycle();
        watch.Participate(lifecycle);
        var (stage, observer) = Assert.Single(lifecycle.Observers);
        Assert.Equal(ServiceLifecycleStage.Active, stage);
        await observer.OnStart(CancellationToken.None);
        try
        {
            redis.Pause();
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(2));
            }
            finally
            {
                redis.Resume();
            }

            await Task.Delay(Interval * 5);
            Assert.Empty(halt.Calls);

            await connection.GetServer(redis.Endpoint).FlushAllDatabasesAsync();
            await Polling.Until(() => !halt.Calls.IsEmpty, "the watch halting the silo", TimeSpan.FromSeconds(10));
            var (code, reason) = Assert.Single(halt.Calls);
            Assert.Equal(SchedulerHost.StoreLostExitCode, code);
            Assert.StartsWith("Redis lost the scheduler's data: the store marker {svc}/store-marker is gone", reason, StringComparison.Ordinal);
        }
        finally
        {
            await observer.OnStop(CancellationToken.None);
        }
    }

    private sealed class RecordingHalt : IProcessHalt
    {
        public System.Collections.Concurrent.ConcurrentQueue<(int Code, string Reason)> Calls { get; } = new();

        public void Halt(int exitCode, string reason) => Calls.Enqueue((exitCode, reason));
    }
}
