namespace Scheduler.Silo.Hosting;

/// <summary>
/// The logger Orleans' silo watchdog writes through, dropping the stall warnings that cannot be true. Orleans 10.4's
/// <c>Watchdog.Start</c> starts its platform thread, whose first check reads the component thread's last-run timestamp,
/// before it sets that timestamp: in about half of all starts the silo's first line was "Participant check thread has not
/// completed for 03:14:14 …, potentially indicating lock contention or deadlock" — the machine's uptime, the distance from
/// timestamp zero. No stall the watchdog measures can be longer than the watchdog has existed, and it is created with this
/// logger, so a stall warning (event <see cref="StallEventId"/>) longer than this logger's age is dropped; every other
/// line, real stalls included, passes unchanged.
/// </summary>
internal sealed class WatchdogStallFilter<T>(ILoggerFactory factory, TimeProvider time) : ILogger<T>
{
    /// <summary>Orleans' <c>ErrorCode.SiloHeartbeatTimerStalled</c>: both of the watchdog's stall warnings.</summary>
    public const int StallEventId = 100150;

    /// <summary>The field both stall warnings carry their duration in.</summary>
    public const string DurationField = "TimeSinceLastTick";

    private readonly ILogger _inner = new Logger<T>(factory);
    private readonly long _created = time.GetTimestamp();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => _inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => _inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Id == StallEventId && Duration(state) > time.GetElapsedTime(_created))
        {
            return;
        }

        _inner.Log(logLevel, eventId, state, exception, formatter);
    }

    private static TimeSpan? Duration<TState>(TState state)
    {
        if (state is IReadOnlyList<KeyValuePair<string, object?>> fields)
        {
            foreach (var (name, value) in fields)
            {
                if (name == DurationField && value is TimeSpan duration)
                {
                    return duration;
                }
            }
        }

        return null;
    }
}
