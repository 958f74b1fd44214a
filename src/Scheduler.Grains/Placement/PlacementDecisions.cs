using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;

namespace Scheduler.Grains.Placement;

/// <summary>
/// What one admission round of a <see cref="ModelPlacement"/> decided, for its grain to tell others: the jobs that
/// ended in the queue before it (expired, or failed after too many hand-backs; each to its record, with its trace),
/// the jobs handed back by a failing engine since the last round, the last time of those that failed of it included
/// (each to its record, so it shows why it waits or failed), the jobs admitted, grouped per replica (one message to
/// each replica's node), each admission with its trace (to its record; <see cref="RecordedAdmission.First"/> marks a
/// job's first, a re-dispatch is not a second admission) and the first admissions per tenant (one message each,
/// naming them), and when the placement must look again — the next deadline expiry or rejection hold to pass, if any.
/// </summary>
internal sealed record AdmissionRound(
    IReadOnlyList<EndedJob> Ended,
    IReadOnlyList<HandedBackJob> HandedBack,
    IReadOnlyList<ReplicaBatch> Batches,
    IReadOnlyList<RecordedAdmission> Admitted,
    IReadOnlyDictionary<string, string[]> AdmittedPerTenant,
    DateTimeOffset? WakeAt);

/// <summary>Jobs admitted into one replica in the same round, sent to its node as one message.</summary>
internal sealed record ReplicaBatch(string NodeId, string ReplicaId, AdmittedSequence[] Sequences);

/// <summary>A queued job the placement ended (it could no longer make its deadline, or was handed back too often): its
/// record takes the outcome and the trace, then tells its watchers.</summary>
internal sealed record EndedJob(string JobId, JobOutcome Outcome, JobAnnouncement Announcement, JobTraceEvent[] Trace);

/// <summary>A job an engine failed and handed back: its record shows the count and the engine's reason. <paramref name="Requeued"/>:
/// its ticket with the new count when it went back to the queue, for the grain to journal before re-dispatching it (a
/// placement rebuilt after a failover then goes on counting); null when it failed of this hand-back.</summary>
internal sealed record HandedBackJob(string JobId, int HandBacks, string Error, JobTicket? Requeued);

/// <summary>A job admitted in a round, whether for the first time, and its placement's trace so far (for its record).</summary>
internal sealed record RecordedAdmission(AdmittedSequence Sequence, bool First, JobTraceEvent[] Trace);

/// <summary>An event for a job's watchers.</summary>
internal sealed record JobAnnouncement(IJobEventSink[] Watchers, JobEventRecord Event);

/// <summary>What a cancellation decided: its outcome; for a job taken out of the queue, what its watchers are told (it
/// never runs, so no node will tell them); for a running job, the replica whose node is asked to stop it (the node
/// confirms with a finished sequence, which frees the capacity).</summary>
internal sealed record CancelDecision(CancelOutcome Outcome, JobAnnouncement? Announcement = null, (string NodeId, string ReplicaId)? StopOn = null)
{
    public static readonly CancelDecision NotFound = new(CancelOutcome.NotFound);
}

/// <summary>Where a job a new watcher attaches to is: running on a node (which replays it to the watcher), or queued at
/// <see cref="QueuePosition"/>.</summary>
internal sealed record JobLocation(string? NodeId, int QueuePosition);
