using System.Threading.RateLimiting;

namespace Scheduler.Policies.Admission;

/// <summary>
/// A token bucket on an injected <see cref="TimeProvider"/>, as a <see cref="RateLimiter"/>. The framework's own
/// <see cref="TokenBucketRateLimiter"/> reads the system stopwatch and refills on its own timer, so admission could
/// not be tested deterministically nor replayed by the simulator on a virtual clock; this one refills continuously
/// from the clock it is given, on demand. It never queues: a refused lease carries
/// <see cref="MetadataName.RetryAfter"/>, the time until enough permits will have accrued.
/// Not thread-safe: it has one owner that calls it one at a time (a tenant grain, the simulator).
/// </summary>
public sealed class TokenBucketLimiter : RateLimiter
{
    private readonly TimeProvider _time;
    private readonly double _permitsPerTick;
    private double _available;
    private long _lastRefill;
    private long _successful;
    private long _failed;

    /// <param name="capacity">The burst: permits available at once (and at start).</param>
    /// <param name="refillPeriod">Time to refill the whole bucket from empty.</param>
    /// <param name="time">The clock.</param>
    public TokenBucketLimiter(long capacity, TimeSpan refillPeriod, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(capacity, 0);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(refillPeriod, TimeSpan.Zero);
        Capacity = capacity;
        _time = time;
        _permitsPerTick = capacity / (double)refillPeriod.Ticks;
        _available = capacity;
        _lastRefill = time.GetTimestamp();
    }

    public long Capacity { get; }

    /// <summary>The whole permits available now.</summary>
    public long Available => (long)Refill();

    public override TimeSpan? IdleDuration => null;

    public override RateLimiterStatistics? GetStatistics() => new()
    {
        CurrentAvailablePermits = (long)Refill(),
        CurrentQueuedCount = 0,
        TotalSuccessfulLeases = _successful,
        TotalFailedLeases = _failed,
    };

    /// <summary>How long until <paramref name="permits"/> will be available (zero if they are now).</summary>
    public TimeSpan TimeUntil(long permits)
    {
        var missing = permits - Refill();
        return missing <= 0 ? TimeSpan.Zero : TimeSpan.FromTicks((long)Math.Ceiling(missing / _permitsPerTick));
    }

    /// <summary>How long the bucket takes to refill <paramref name="permits"/>, from empty.</summary>
    public TimeSpan TimeToRefill(long permits) => TimeSpan.FromTicks((long)Math.Ceiling(permits / _permitsPerTick));

    /// <summary>Gives back permits taken for work that did not happen after all (never past the capacity).</summary>
    public void Return(long permits)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permits);
        _available = Math.Min(Capacity, Refill() + permits);
    }

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permitCount);
        if (permitCount > Capacity)
        {
            // Could never be granted: no retry hint would be honest.
            _failed++;
            return Lease.Refused(null);
        }

        var wait = TimeUntil(permitCount);
        if (wait > TimeSpan.Zero)
        {
            _failed++;
            return Lease.Refused(wait);
        }

        _available -= permitCount;
        _successful++;
        return Lease.Granted;
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AttemptAcquireCore(permitCount));

    private double Refill()
    {
        var now = _time.GetTimestamp();
        var elapsed = _time.GetElapsedTime(_lastRefill, now);
        _lastRefill = now;
        _available = Math.Min(Capacity, _available + (elapsed.Ticks * _permitsPerTick));
        return _available;
    }

    private sealed class Lease(bool acquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly Lease Granted = new(true, null);

        public static Lease Refused(TimeSpan? retryAfter) => new(false, retryAfter);

        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = metadataName == MetadataName.RetryAfter.Name ? retryAfter : null;
            return metadata is not null;
        }
    }
}
