using Grpc.Core;

namespace Scheduler.Worker.Registration;

/// <summary>
/// Decides what the worker's log says while the scheduler is unreachable. Its calls fail every couple of seconds for as
/// long as the outage lasts (heartbeats at their interval, the channel dialling again at least every 2 s so a restarted
/// silo is found at once): a warning for each was ~1,800 lines an hour per worker, burying everything else in the log.
/// The first failure of an outage, and the first of each other status within it, are the caller's to log in full; the
/// rest are counted into one summary a minute; the first call answered again ends the outage with one line — which
/// says "reachable again" only when the scheduler had answered before: failures from the worker's start (the silo still
/// starting) end in a line saying the scheduler was reached for the first time, the worker never having been connected.
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
    private bool _answeredBefore;

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
    /// lasted and how many calls failed in it (and, before the scheduler's first answer, that it is the first).</summary>
    public void Answered(string scheduler)
    {
        lock (_lock)
        {
            var first = !_answeredBefore;
            _answeredBefore = true;
            if (_failures == 0)
            {
                return;
            }

            var duration = new Elapsed(time.GetUtcNow() - _since);
            if (first)
            {
                LogFirstAnswer(logger, nodeId, scheduler, _failures, duration);
            }
            else
            {
                LogReachableAgain(logger, nodeId, scheduler, duration, _failures);
            }

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId}: the scheduler answered through {Scheduler} for the first time, after {Failures} failed attempts over {Duration} while it was starting or unreachable")]
    private static partial void LogFirstAnswer(ILogger logger, string nodeId, string scheduler, int failures, Elapsed duration);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId}: the scheduler is reachable again through {Scheduler}, after {Duration} unreachable and {Failures} failed attempts")]
    private static partial void LogReachableAgain(ILogger logger, string nodeId, string scheduler, Elapsed duration, int failures);
}
