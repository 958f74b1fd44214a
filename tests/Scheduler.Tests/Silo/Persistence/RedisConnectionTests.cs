using Microsoft.Extensions.DependencyInjection;
using Scheduler.Silo.Hosting;
using Scheduler.Silo.Persistence;
using Scheduler.Tests.EndToEnd;
using Scheduler.Tests.Faults;
using StackExchange.Redis;

namespace Scheduler.Tests.Silo.Persistence;

/// <summary>The silo's Redis connection, against a real redis-server on loopback.</summary>
public sealed class RedisConnectionTests
{
    [Fact]
    public async Task Multiplexer_OpenedAsTheSiloStarts_IsHandedOutAtOnce_EvenWithRedisNotAnswering()
    {
        await using var redis = await RedisServer.StartAsync();
        var connection = new RedisConnection(ConfigurationOptions.Parse(redis.Endpoint));
        var lifecycle = new RecordingLifecycle();
        connection.Participate(lifecycle);
        var (stage, observer) = Assert.Single(lifecycle.Observers);
        Assert.Equal(ServiceLifecycleStage.RuntimeInitialize, stage);
        await observer.OnStart(CancellationToken.None);

        // A first connect now would wait out its timeout (5 s) and throw: what a grain activating under load used to do,
        // blocking a pool thread (and, behind the container's lock, every other activation that needed Redis).
        redis.Pause();
        try
        {
            var first = await Task.Run(() => connection.Multiplexer).WaitAsync(TimeSpan.FromSeconds(2));
            Assert.Same(first, connection.Multiplexer);
        }
        finally
        {
            redis.Resume();
        }

        await connection.Multiplexer.DisposeAsync();
    }

    [Fact]
    public async Task RedisMode_OpensTheConnectionInTheSilosLifecycle()
    {
        await using var silo = SchedulerHost.Build(
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            "--Scheduler:Clustering=redis", "--Scheduler:Redis=127.0.0.1:1",
        ]);

        var connection = silo.Services.GetRequiredService<RedisConnection>();
        Assert.Contains(connection, silo.Services.GetServices<ILifecycleParticipant<ISiloLifecycle>>());
    }
}
