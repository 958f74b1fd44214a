namespace Scheduler.Tests.Grains;

/// <summary>The system clock, which a test can stop at a time of its choosing: what <see cref="GetUtcNow"/> reads, only —
/// timers and timestamps run on, so the silo's timers and timeouts are unaffected.</summary>
internal sealed class HoldableClock : TimeProvider
{
    // Ticks of the time held; 0 while not held.
    private long _heldTicks;

    public override DateTimeOffset GetUtcNow() =>
        Interlocked.Read(ref _heldTicks) is var ticks and not 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : base.GetUtcNow();

    /// <summary>Stops the clock at <paramref name="at"/> until the returned scope is disposed: everything read meanwhile
    /// happens in the same millisecond, as on a clock of coarse resolution.</summary>
    public IDisposable Hold(DateTimeOffset at)
    {
        Interlocked.Exchange(ref _heldTicks, at.UtcTicks);
        return new Release(this);
    }

    private sealed class Release(HoldableClock clock) : IDisposable
    {
        public void Dispose() => Interlocked.Exchange(ref clock._heldTicks, 0);
    }
}
