using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Grains;
using Scheduler.Grains.Tenants;

namespace Scheduler.Tests.Grains;

public sealed class MemoryIdempotencyKeysTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly MemoryIdempotencyKeys _keys;

    public MemoryIdempotencyKeysTests() =>
        _keys = new MemoryIdempotencyKeys(Options.Create(new PlacementOptions { IdempotencyKeyLifetime = TimeSpan.FromHours(1), IdempotencyKeysPerTenant = 3 }), _time);

    [Fact]
    public async Task Claim_FreeKey_BindsIt_ThenReturnsTheFirstBinding()
    {
        var first = new IdempotencyBinding("job-1", "fp-1");

        Assert.Same(first, await _keys.Claim("t", "k", first));
        Assert.Equal(first, await _keys.Claim("t", "k", new IdempotencyBinding("job-2", "fp-2")));
    }

    [Fact]
    public async Task Claim_SameKeyOfAnotherTenant_IsAnotherKey()
    {
        await _keys.Claim("t1", "k", new IdempotencyBinding("job-1", "fp"));

        Assert.Equal("job-2", (await _keys.Claim("t2", "k", new IdempotencyBinding("job-2", "fp"))).JobId);
    }

    [Fact]
    public async Task Claim_AfterTheLifetime_TheKeyIsFree()
    {
        await _keys.Claim("t", "k", new IdempotencyBinding("job-1", "fp"));
        _time.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal("job-1", (await _keys.Claim("t", "k", new IdempotencyBinding("job-2", "fp"))).JobId);

        _time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal("job-3", (await _keys.Claim("t", "k", new IdempotencyBinding("job-3", "fp"))).JobId);
    }

    [Fact]
    public async Task Claim_PastTheBoundPerTenant_ForgetsTheOldestKey()
    {
        foreach (var i in Enumerable.Range(1, 4))
        {
            await _keys.Claim("t", $"k{i}", new IdempotencyBinding($"job-{i}", "fp"));
        }

        Assert.Equal("job-2", (await _keys.Claim("t", "k2", new IdempotencyBinding("new", "fp"))).JobId);
        Assert.Equal("new", (await _keys.Claim("t", "k1", new IdempotencyBinding("new", "fp"))).JobId);
    }

    [Fact]
    public async Task Claim_ByAnotherTenant_ForgetsAnIdleTenantsExpiredKeys_AndKeepsItsLiveOnes()
    {
        // A tenant that stops sending keys: two bound an hour before the third.
        await _keys.Claim("idle", "old-1", new IdempotencyBinding("job-1", "fp"));
        await _keys.Claim("idle", "old-2", new IdempotencyBinding("job-2", "fp"));
        _time.Advance(TimeSpan.FromMinutes(30));
        await _keys.Claim("idle", "live", new IdempotencyBinding("job-3", "fp"));
        _time.Advance(TimeSpan.FromMinutes(30) + MemoryIdempotencyKeys.SweepInterval);

        await _keys.Claim("busy", "k", new IdempotencyBinding("job-4", "fp"));

        // The idle tenant's expired keys are gone without a call of its own; its live key and the busy one are held.
        Assert.Equal(2, _keys.KeysHeld);
        Assert.Equal("job-3", (await _keys.Claim("idle", "live", new IdempotencyBinding("job-5", "fp"))).JobId);
    }

    [Fact]
    public async Task Claim_ManyTenantsThatWentIdle_HoldsOnlyTheKeysStillLive()
    {
        foreach (var tenant in Enumerable.Range(0, 200))
        {
            foreach (var key in Enumerable.Range(0, 3))
            {
                await _keys.Claim($"t{tenant}", $"k{key}", new IdempotencyBinding($"job-{tenant}-{key}", "fp"));
            }
        }

        _time.Advance(TimeSpan.FromHours(1) + MemoryIdempotencyKeys.SweepInterval);
        await _keys.Claim("newcomer", "k", new IdempotencyBinding("job", "fp"));

        Assert.Equal(1, _keys.KeysHeld);
    }

    [Fact]
    public async Task Bind_RebindsAKey_AndItsEarlierListingDoesNotForgetIt()
    {
        await _keys.Claim("t", "k", new IdempotencyBinding("job-1", "fp"));
        _time.Advance(TimeSpan.FromMinutes(30));
        await _keys.Bind("t", "k", new IdempotencyBinding("job-2", "fp"));

        // The first binding's hour is over, the second's is not.
        _time.Advance(TimeSpan.FromMinutes(45));

        Assert.Equal("job-2", (await _keys.Claim("t", "k", new IdempotencyBinding("job-3", "fp"))).JobId);
    }

    [Fact]
    public async Task Release_OnlyABindingToThatJob()
    {
        await _keys.Claim("t", "k", new IdempotencyBinding("job-1", "fp"));

        await _keys.Release("t", "k", "job-other");
        Assert.Equal("job-1", (await _keys.Claim("t", "k", new IdempotencyBinding("job-2", "fp"))).JobId);

        await _keys.Release("t", "k", "job-1");
        Assert.Equal("job-3", (await _keys.Claim("t", "k", new IdempotencyBinding("job-3", "fp"))).JobId);
    }
}
