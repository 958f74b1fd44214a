using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// A finished job's record, as the journal keeps it once the job settled: the job as accepted (its ticket, with its
/// hand-backs and the last one's reason, without its watchers), where it ran last, how it ended, and its placement's
/// trace up to its last admission or its end in the queue, and when it settled (<see cref="JobSettlement"/> stamps it;
/// the record is kept for <see cref="PlacementOptions.JobRetention"/> from then).
/// </summary>
[GenerateSerializer, Immutable, Alias("scheduler.SettledJob")]
public sealed record SettledJob(
    [property: Id(0)] JobTicket Ticket,
    [property: Id(1)] JobPlacement? Placement,
    [property: Id(2)] JobOutcome Outcome,
    [property: Id(3)] JobTraceEvent[] Trace,
    [property: Id(4)] DateTimeOffset SettledAt = default)
{
    /// <summary>The record of a job that ended with <paramref name="outcome"/>; watchers are not kept (they are told
    /// the end as it settles, and a late one replays the record).</summary>
    public static SettledJob Of(JobTicket ticket, JobPlacement? placement, JobOutcome outcome, JobTraceEvent[]? trace) =>
        new(ticket.Watchers.Length == 0 ? ticket : ticket with { Watchers = [] }, placement, outcome, trace ?? []);

    /// <summary>Whether the record is past <paramref name="retention"/> at <paramref name="now"/>: storage no longer
    /// keeps it (a record of a version that did not stamp it counts as old, so it is read from storage again).</summary>
    public bool IsExpired(DateTimeOffset now, TimeSpan retention) => KeptFor(now, retention) <= TimeSpan.Zero;

    /// <summary>How much longer than <paramref name="now"/> the record is kept under <paramref name="retention"/>,
    /// counted from its end whenever it is written (a write retried after a storage outage keeps the end's time).</summary>
    public TimeSpan KeptFor(DateTimeOffset now, TimeSpan retention) => SettledAt + retention - now;

    public JobSnapshot Snapshot() => JobSnapshot.Queued(Ticket) with
    {
        Status = Outcome.Status,
        Placement = Placement,
        Usage = Outcome.Usage,
        Output = Outcome.Output,
        Error = Outcome.Error,
        FinishReason = Outcome.FinishReason,
        TokenEnds = Outcome.TokenEnds,
    };
}
