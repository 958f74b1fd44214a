using Grpc.Core;

namespace Scheduler.Worker.Registration;

/// <summary>
/// Decides what the worker's log says while the scheduler is unreachable. Its calls fail every couple of seconds for as
/// long as the outage lasts (heartbeats at their interval, the channel dialling again at least every 2 s so a restarted
/// silo is found at once): a warning for each was ~1,800 lines an hour per worker, burying everything else in the log.
/// The first failure of an outage, and the first of each other status within it, are the caller's to log in full; the
/// rest are counted into one summary a minute; the first call answered again ends the outage with one line.
/// Thread-safe: a drain announcement fails or succeeds beside the heartbeat loop.
/// </summary>
internal sealed partial class OutageLog(string nodeId, TimeProvider time, ILogger logger)
{
    /// <summary>How often a lasting outage is summarized.</summary>
    internal static readonly TimeSpan SummaryInterval = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private readonly HashSet<StatusCode> _statuses = [];
    private DateTimeOffset _since;
    private DateTimeOffset _lastLine;
    private int _failures;

    /// <summary>Counts a call that failed. True when the caller logs it in full: the first failure of an outage, or the
    /// first with this status in it (a different failure is never folded into the summary). False when it is counted
    /// into the summary instead, which is logged here once <see cref="SummaryInterval"/> passed since the last line.</summary>
    public bool Failed(string scheduler, StatusCode status, string detail)
    {
        lock (_lock)
        {
            var now = time.GetUtcNow();
            if (_failures++ == 0)
            {
                _since = now;
            }

            if (_statuses.Add(status))
            {
                _lastLine = now;
                return true;
            }

            if (now - _lastLine >= SummaryInterval)
            {
                _lastLine = now;
                LogStillUnreachable(logger, nodeId, new Elapsed(now - _since), _failures, scheduler, status, detail);
            }

            return false;
        }
    }

    /// <summary>A call the scheduler answered: ends the outage, if one was under way, with one line saying how long it
    /// lasted and how many calls failed in it.</summary>
    public void Answered(string scheduler)
    {
        lock (_lock)
        {
            if (_failures == 0)
            {
                return;
            }

            LogReachableAgain(logger, nodeId, scheduler, new Elapsed(time.GetUtcNow() - _since), _failures);
            _failures = 0;
            _statuses.Clear();
        }
    }

    // "2m 00s": minutes and seconds read at a glance in a log line, however long the outage; formatted only when logged.
    private readonly record struct Elapsed(TimeSpan Duration)
    {
        public override string ToString() => $"{(long)Duration.TotalMinutes}m {Duration.Seconds:00}s";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId}: the scheduler is still unreachable after {Duration}: {Failures} failed attempts, last through {Scheduler}: {Status} {Detail}")]
    private static partial void LogStillUnreachable(ILogger logger, string nodeId, Elapsed duration, int failures, string scheduler, StatusCode status, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId}: the scheduler is reachable again through {Scheduler}, after {Duration} unreachable and {Failures} failed attempts")]
    private static partial void LogReachableAgain(ILogger logger, string nodeId, string scheduler, Elapsed duration, int failures);
}
