using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Placement;

/// <summary>
/// What a placement activated after a failover restores (<see cref="RecoveryPlanner"/> decides it): the replicas a
/// live execution stream vouches for, the unfinished jobs in arrival order — each resuming on the replica a live
/// stream still runs it on, or queued again.
/// </summary>
internal sealed record RecoveryPlan(IReadOnlyList<LiveReplica> LiveReplicas, IReadOnlyList<RecoveredJob> Jobs);

/// <summary>A persisted replica whose node answered from its live execution stream <paramref name="LinkId"/>.</summary>
internal sealed record LiveReplica(string ReplicaId, string LinkId);

/// <summary>An unfinished job: running on replica <paramref name="ResumeOn"/> by a live stream's word, or queued again
/// (null). <paramref name="WasAdmitted"/>: it left its tenant's queue before, so a re-dispatch is not a new admission.</summary>
internal sealed record RecoveredJob(JobTicket Ticket, bool WasAdmitted, string? ResumeOn);
