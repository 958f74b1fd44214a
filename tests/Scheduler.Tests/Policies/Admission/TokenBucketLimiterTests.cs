using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies.Admission;

namespace Scheduler.Tests.Policies.Admission;

public sealed class TokenBucketLimiterTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void AttemptAcquire_BurstUpToCapacity_ThenRefusedWithTimeUntilRefilled()
    {
        using var bucket = new TokenBucketLimiter(60, TimeSpan.FromMinutes(1), _time);

        using (var burst = bucket.AttemptAcquire(60))
        {
            Assert.True(burst.IsAcquired);
        }

        using var refused = bucket.AttemptAcquire(3);

        Assert.False(refused.IsAcquired);
        Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(3), retryAfter);
    }

    [Fact]
    public void AttemptAcquire_RefillsContinuouslyOnTheInjectedClock()
    {
        using var bucket = new TokenBucketLimiter(60, TimeSpan.FromMinutes(1), _time);
        bucket.AttemptAcquire(60).Dispose();

        _time.Advance(TimeSpan.FromSeconds(29.5));
        Assert.Equal(29, bucket.GetStatistics()!.CurrentAvailablePermits);
        Assert.False(bucket.AttemptAcquire(30).IsAcquired);

        _time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.True(bucket.AttemptAcquire(30).IsAcquired);

        // Never past capacity, however long it idles.
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(60, bucket.GetStatistics()!.CurrentAvailablePermits);
    }

    [Fact]
    public void AttemptAcquire_MoreThanCapacity_IsRefusedWithoutRetryHint()
    {
        using var bucket = new TokenBucketLimiter(10, TimeSpan.FromMinutes(1), _time);

        using var lease = bucket.AttemptAcquire(11);

        Assert.False(lease.IsAcquired);
        Assert.False(lease.TryGetMetadata(MetadataName.RetryAfter, out _));
        Assert.Equal(10, bucket.GetStatistics()!.CurrentAvailablePermits);
        Assert.Equal(1, bucket.GetStatistics()!.TotalFailedLeases);
    }
}
