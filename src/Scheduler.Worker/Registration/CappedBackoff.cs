namespace Scheduler.Worker.Registration;

/// <summary>Exponential retry delays with jitter, capped, so a fleet of nodes does not hammer a recovering scheduler in step.</summary>
internal sealed class CappedBackoff(TimeSpan initial, TimeSpan cap, Jitter jitter)
{
    private TimeSpan? _next;

    public TimeSpan Next()
    {
        var delay = _next ?? initial;
        _next = TimeSpan.FromTicks(Math.Min(cap.Ticks, delay.Ticks * 2));
        return jitter.Around(delay);
    }

    public void Reset() => _next = null;
}
