using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;

namespace Scheduler.Grains.Placement;

/// <summary>
/// What one admission round of a <see cref="ModelPlacement"/> decided, for its grain to tell others: the jobs that
/// ended in the queue before it (expired, failed after too many hand-backs, or cancelled while handed back; each to be
/// settled, with its trace), the tickets of jobs that went back to the queue from a replica since the last round,
/// whatever the reason (to journal with their counts, the last reason and where they resume, before any is admitted
/// again), the jobs admitted, grouped per replica (one message to each replica's node; each admission carries its trace
/// to the node link, which settles the job), the first admissions
/// per tenant (one message each, naming them; a re-dispatch is not a second admission), and when the
/// placement must look again — the next deadline expiry or rejection hold to pass, if any.
/// </summary>
internal sealed record AdmissionRound(
    IReadOnlyList<EndedJob> Ended,
    IReadOnlyList<JobTicket> Requeued,
    IReadOnlyList<ReplicaBatch> Batches,
    IReadOnlyDictionary<string, string[]> AdmittedPerTenant,
    DateTimeOffset? WakeAt);

/// <summary>Jobs admitted into one replica in the same round, sent to its node as one message.</summary>
internal sealed record ReplicaBatch(string NodeId, string ReplicaId, AdmittedSequence[] Sequences);

/// <summary>A job the placement ended while no node ran it (it could no longer make its deadline, was handed back too
/// often, or was cancelled while handed back): it is settled with the outcome and the trace, then its watchers are told.
/// <paramref name="Placement"/>: where it was admitted last, if ever.</summary>
internal sealed record EndedJob(JobTicket Ticket, JobPlacement? Placement, JobOutcome Outcome, JobAnnouncement Announcement, JobTraceEvent[] Trace);

/// <summary>An event for a job's watchers.</summary>
internal sealed record JobAnnouncement(IJobEventSink[] Watchers, JobEventRecord Event);

/// <summary>What a cancellation decided: its outcome; for a job taken out of the queue, its end (to settle, then tell
/// its watchers: it never runs, so no node will) and where it was admitted last, if ever; for a running job, the
/// replica whose node is asked to stop it (the node confirms with a finished sequence, which frees the capacity).</summary>
internal sealed record CancelDecision(
    CancelOutcome Outcome, EndedJob? Ended = null, (string NodeId, string ReplicaId)? StopOn = null, JobPlacement? Placement = null)
{
    public static readonly CancelDecision NotFound = new(CancelOutcome.NotFound);
}

/// <summary>Where a job a new watcher attaches to is: running on a node (which replays it to the watcher), or queued at
/// <see cref="QueuePosition"/>.</summary>
internal sealed record JobLocation(string? NodeId, int QueuePosition);
