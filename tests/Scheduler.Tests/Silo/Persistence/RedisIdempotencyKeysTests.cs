using Microsoft.Extensions.Options;
using Scheduler.Grains;
using Scheduler.Grains.Tenants;
using Scheduler.Silo.Persistence;
using Scheduler.Tests.Faults;
using StackExchange.Redis;

namespace Scheduler.Tests.Silo.Persistence;

/// <summary>Against a real redis-server on loopback.</summary>
public sealed class RedisIdempotencyKeysTests : IAsyncLifetime
{
    private RedisServer? _server;
    private ConnectionMultiplexer? _connection;

    private RedisServer Server => _server ?? throw new InvalidOperationException("not started");

    private ConnectionMultiplexer Connection => _connection ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _server = await RedisServer.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(Server.Endpoint);
    }

    public async Task DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private RedisIdempotencyKeys Keys(TimeSpan lifetime) =>
        new(Connection, Options.Create(new PlacementOptions { IdempotencyKeyLifetime = lifetime }), "svc");

    [Fact]
    public async Task Claim_FreeKey_BindsIt_ThenReturnsTheFirstBindingWithItsFingerprint()
    {
        var keys = Keys(TimeSpan.FromHours(1));
        var first = new IdempotencyBinding("job-1", "Zm9v+/==");

        Assert.Same(first, await keys.Claim("tenant", "key with spaces ✓", first));

        Assert.Equal(first, await keys.Claim("tenant", "key with spaces ✓", new IdempotencyBinding("job-2", "other")));
    }

    [Fact]
    public async Task Claim_ConcurrentlyFromTwoConnections_ExactlyOneWins()
    {
        await using var other = await ConnectionMultiplexer.ConnectAsync(Server.Endpoint);
        var a = Keys(TimeSpan.FromHours(1));
        var b = new RedisIdempotencyKeys(other, Options.Create(new PlacementOptions()), "svc");

        var claims = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            (i % 2 == 0 ? a : b).Claim("tenant", "contended", new IdempotencyBinding($"job-{i}", "fp"))));

        Assert.Single(claims.Select(c => c.JobId).Distinct());
    }

    [Fact]
    public async Task Claim_TenantAndKeyAreNotConfusedByASlash()
    {
        var keys = Keys(TimeSpan.FromHours(1));
        await keys.Claim("a/b", "c", new IdempotencyBinding("job-1", "fp"));

        Assert.Equal("job-2", (await keys.Claim("a", "b/c", new IdempotencyBinding("job-2", "fp"))).JobId);
    }

    [Fact]
    public async Task Claim_AfterTheLifetime_RedisHasForgottenTheKey()
    {
        var keys = Keys(TimeSpan.FromMilliseconds(300));
        await keys.Claim("tenant", "short", new IdempotencyBinding("job-1", "fp"));

        await Task.Delay(TimeSpan.FromMilliseconds(600));

        Assert.Equal("job-2", (await keys.Claim("tenant", "short", new IdempotencyBinding("job-2", "fp"))).JobId);
    }

    [Fact]
    public async Task Bind_WithoutFingerprint_ReadsBackAsNone_AndRelease_OnlyForgetsThatJobsBinding()
    {
        var keys = Keys(TimeSpan.FromHours(1));
        await keys.Bind("tenant", "legacy", new IdempotencyBinding("job-1", null));
        Assert.Equal(new IdempotencyBinding("job-1", null), await keys.Claim("tenant", "legacy", new IdempotencyBinding("job-2", "fp")));

        await keys.Release("tenant", "legacy", "job-");
        Assert.Equal("job-1", (await keys.Claim("tenant", "legacy", new IdempotencyBinding("job-2", "fp"))).JobId);

        await keys.Release("tenant", "legacy", "job-1");
        Assert.Equal("job-3", (await keys.Claim("tenant", "legacy", new IdempotencyBinding("job-3", "fp"))).JobId);
    }
}
