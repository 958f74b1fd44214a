namespace Scheduler.Abstractions.Jobs;

/// <summary>
/// One line of a job's explanation, as its placement recorded it: queued, waited (one line per run of admission rounds
/// that passed it over for the same reason, with their count and the first and last time), admitted (with the
/// replicas weighed), handed back, expired. Kept in a short ring per job, with the job's record.
/// </summary>
[GenerateSerializer, Immutable, Alias("scheduler.JobTraceEvent")]
public sealed record JobTraceEvent(
    [property: Id(0)] JobTraceKind Kind,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Detail,
    [property: Id(3)] WaitReason Reason = WaitReason.None,
    [property: Id(4)] DateTimeOffset? LastAt = null,
    [property: Id(5)] int Count = 1,
    [property: Id(6)] int QueuePosition = 0,
    [property: Id(7)] JobPlacement? Placement = null,
    [property: Id(8)] WeighedClass[]? Candidates = null);

public enum JobTraceKind
{
    Queued = 1,
    Waiting = 2,
    Admitted = 3,
    HandedBack = 4,
    Expired = 5,

    // 6 is kept free: a job cancelled in the queue ends in its record (the timeline's last line), not in its trace.

    /// <summary>Its placement was rebuilt after a silo failure; what it recorded before is kept by the job's record
    /// up to the job's last admission.</summary>
    Recovered = 7,
}

/// <summary>Why admission rounds passed a queued job over.</summary>
public enum WaitReason
{
    None = 0,

    /// <summary>No open replica had a free sequence slot.</summary>
    NoSlot = 1,

    /// <summary>Slots were free, but none with KV room for the job's prompt and output.</summary>
    NoKvRoom = 2,

    /// <summary>The model had no replica at all.</summary>
    NoReplicas = 3,

    /// <summary>The job itself was held: no replica was predicted to meet its TTFT objective and even the fastest was
    /// saturated with prefill.</summary>
    HeldNoReplicaMeetsObjective = 4,

    /// <summary>A job of a more urgent priority class was held first (strict classes).</summary>
    LowerPriorityClass = 5,

    /// <summary>Another tenant's job went first: the job's tenant had received more than its weighted share.</summary>
    TenantOverShare = 6,

    /// <summary>An earlier job of its own tenant and class was held first.</summary>
    BehindOwnTenantsJobs = 7,

    /// <summary>Rounds older than the placement keeps were passed over too; their reasons are not known any more.</summary>
    RoundsNotKept = 8,

    /// <summary>The replica holding its session's context had no room for it: it waited for that replica, for a share of
    /// its TTFT objective, before going wherever it fits.</summary>
    SessionReplicaFull = 9,

    /// <summary>It had room nowhere, so a replica was set aside for it (nothing else is admitted there) until its running
    /// sequences free the room it needs: for a job of a higher class than the ones that fit (strict priority), or one
    /// that waited past <c>Scheduling:SetAsideWithinClassAfter</c> while its class's smaller jobs took the room.</summary>
    ReplicaSetAsideForIt = 10,

    /// <summary>A replica was set aside for a job of a higher class that had room nowhere, and no other open replica had
    /// room for it.</summary>
    ReplicaSetAsideForHigherClass = 11,

    /// <summary>The model had replicas, but none was schedulable: each was cordoned, draining, or on a node that was lost or
    /// not connected. It waits for an operator to uncordon one or for a node to (re)connect, not for capacity to free.</summary>
    NoSchedulableReplica = 12,

    /// <summary>A replica was set aside for a job of its own class that had room nowhere for longer than
    /// <c>Scheduling:SetAsideWithinClassAfter</c>, and no other open replica had room for it.</summary>
    ReplicaSetAsideForLongerWaitingJob = 13,
}

/// <summary>What a placement policy predicted for one class of alike replicas (product and slots) when it admitted a
/// job: the best of that class (earliest predicted first token), and whether the job went to that class.</summary>
[GenerateSerializer, Immutable, Alias("scheduler.WeighedClass")]
public sealed record WeighedClass(
    [property: Id(0)] string Product,
    [property: Id(1)] int MaxSequences,
    [property: Id(2)] int RunningSequences,
    [property: Id(3)] double PredictedTtftMs,
    [property: Id(4)] double PredictedCostUsd,
    [property: Id(5)] bool MeetsObjective,
    [property: Id(6)] bool Chosen,
    [property: Id(7)] int ReplicasWeighed);

/// <summary>A job's record and the story of its placement (<see cref="Events"/>, oldest first). <see cref="QueuePosition"/>
/// is its place in the queue now, for a job still queued.</summary>
[GenerateSerializer, Alias("scheduler.JobExplanation")]
public sealed record JobExplanation(
    [property: Id(0)] JobSnapshot Job,
    [property: Id(1)] JobTraceEvent[] Events,
    [property: Id(2)] int? QueuePosition);
