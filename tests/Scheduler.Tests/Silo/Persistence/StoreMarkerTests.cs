using Scheduler.Silo.Persistence;
using Scheduler.Tests.Faults;
using StackExchange.Redis;

namespace Scheduler.Tests.Silo.Persistence;

/// <summary>The store's marker, against a real redis-server on loopback.</summary>
public sealed class StoreMarkerTests
{
    [Fact]
    public async Task Establish_TwoSilosOnAnEmptyStore_AgreeOnOneLife_WhichHoldsUntilTheKeyIsGoneOrRewritten()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync($"{redis.Endpoint},allowAdmin=true");
        var first = new StoreMarker(() => connection, "svc");
        var second = new StoreMarker(() => connection, "svc");

        var lives = await Task.WhenAll(first.Establish(), second.Establish());
        Assert.Equal(lives[0], lives[1]);
        Assert.False((await first.Check()).IsLost);

        await connection.GetServer(redis.Endpoint).FlushAllDatabasesAsync();
        Assert.Equal(new StoreCheck(lives[0], null), await first.Check());
        Assert.True((await first.Check()).IsLost);

        // A silo started since wrote a new life: the first one's is still lost.
        var started = await new StoreMarker(() => connection, "svc").Establish();
        Assert.NotEqual(lives[0], started);
        Assert.Equal(new StoreCheck(lives[0], started), await second.Check());
        Assert.True((await second.Check()).IsLost);
    }
}
