namespace Scheduler.Abstractions.Audit;

/// <summary>The cluster's one audit log of admin actions: a bounded ring, oldest dropped first, kept in the same grain
/// storage as the rest of the state (memory, or Redis when configured).</summary>
public interface IAuditLogGrain : IGrainWithIntegerKey
{
    /// <summary>The key of the one log.</summary>
    const long Key = 0;

    /// <summary>How many events the log keeps: weeks of people's admin actions in one state, written for every append
    /// (appends that come during a write, as a provisioning script's do, share the next one).</summary>
    const int Capacity = 2000;

    /// <summary>Records an event; it is persisted before the call returns. Interleaves: appends that come while the log
    /// is being written share the next write.</summary>
    [AlwaysInterleave]
    Task Append(AuditEvent auditEvent);

    /// <summary>Events newest first: at most <paramref name="limit"/>, none before <paramref name="since"/>, and only
    /// <paramref name="action"/> when given (an exact action, or a prefix ending in "." such as "apikey."). Interleaves:
    /// it only reads.</summary>
    [AlwaysInterleave]
    Task<AuditEvent[]> List(DateTimeOffset? since, string? action, int limit);
}
