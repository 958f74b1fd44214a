using Microsoft.Extensions.DependencyInjection;
using Scheduler.Grains.Jobs;
using Scheduler.Silo.Persistence;
using Scheduler.Tests.Faults;
using StackExchange.Redis;

namespace Scheduler.Tests.Grains.Tenants;

/// <summary>The grain tests' silo with Redis mode's job journal, index and idempotency keys in a real redis-server on
/// loopback (stopped by its PID), so state outlives the silo as it does there, and the clock tests can hold. Grain state
/// stays in the silo's memory, where a test puts back what a killed silo would have left.</summary>
public sealed class RedisGrainClusterFixture : GrainClusterFixture
{
    private RedisServer? _redis;
    private ConnectionMultiplexer? _connection;

    /// <summary>The redis-server the journal and index are in: a test may freeze it.</summary>
    internal RedisServer Redis => _redis ?? throw new InvalidOperationException("Redis is not started.");

    public override async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(_redis.Endpoint);
        await base.InitializeAsync();
    }

    protected override void AddStores(IServiceCollection services)
    {
        var connection = _connection ?? throw new InvalidOperationException("Redis is not started.");
        services.AddSingleton<IConnectionMultiplexer>(connection);
        services.AddSingleton(new RedisJobKeys("recount-" + Guid.NewGuid().ToString("N")[..8]));
        services.AddSingleton<IJobJournal, RedisJobJournal>();
        services.AddSingleton<IJobIndex, RedisJobIndex>();
    }

    protected override void Configure(Scheduler.Grains.PlacementOptions options)
    {
        base.Configure(options);

        // No periodic write while a test runs: the tenant's stored state is what the test's own writes left.
        options.TenantStateWriteInterval = TimeSpan.FromHours(1);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _connection?.Dispose();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RedisGrainClusterCollection : ICollectionFixture<RedisGrainClusterFixture>
{
    public const string Name = "grain-cluster-redis";
}
