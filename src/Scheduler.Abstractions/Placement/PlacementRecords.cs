using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;

namespace Scheduler.Abstractions.Placement;

/// <summary>A sequence the engine finished, as the node connection reports it to the placement.</summary>
/// <remarks>Id 2 was the reason as text: a silo of an earlier version reads this reason as absent, not garbled.</remarks>
[GenerateSerializer, Alias("scheduler.FinishedSequence")]
public sealed record FinishedSequence(
    [property: Id(0)] string JobId,
    [property: Id(1)] int CompletionTokens,
    [property: Id(3)] FinishReason Reason);

/// <summary>A sequence the engine finished whose record storage refused to write (a Redis outage), with its
/// <see cref="Outcome"/>: its node link writes the record again until it lands, and its placement keeps the outcome
/// meanwhile, to write it itself should the link's stream die first (<c>IPlacementGrain.OnFinishedUnrecorded</c>).</summary>
[GenerateSerializer, Immutable, Alias("scheduler.UnrecordedFinish")]
public sealed record UnrecordedFinish(
    [property: Id(0)] FinishedSequence Sequence,
    [property: Id(1)] JobOutcome Outcome);

/// <summary>A running job handed back by its replica (its node was lost, its stream closed, its engine refused it or
/// failed it): it goes back to the front of its queue and resumes at <see cref="DeliveredTokens"/>, so its client sees
/// no token twice. <see cref="Output"/>, when known, is everything delivered so far. <see cref="Error"/> is the engine's
/// reason when the engine failed the sequence (an upstream's error, with its message); such hand-backs are counted
/// against the job, up to <c>PlacementOptions.MaxHandBacks</c>. Null when the job is not at fault (no room, a lost node).
/// <see cref="FirstAdmittedAt"/> and <see cref="FirstTokenAt"/> are when the job was first admitted and first delivered a
/// token, by this run or an earlier one (null when unknown or not yet): its usage is measured to them, not to the
/// resumed run's, so a job its client had tokens of long before its node died does not report a late first token.</summary>
[GenerateSerializer, Alias("scheduler.RequeuedSequence")]
public sealed record RequeuedSequence(
    [property: Id(0)] string JobId,
    [property: Id(1)] int DeliveredTokens,
    [property: Id(2)] DeliveredOutput? Output = null,
    [property: Id(3)] string? Error = null,
    [property: Id(4)] DateTimeOffset? FirstAdmittedAt = null,
    [property: Id(5)] DateTimeOffset? FirstTokenAt = null);

/// <summary>Why running jobs come back from a replica to the front of their queue.</summary>
public enum HandBack
{
    /// <summary>Their stream was closed by its owner (the node registered anew, or its grain moved): the replica is
    /// as good as before, and its schedulability is left to its accelerator and its node's registration.</summary>
    StreamClosed = 0,

    /// <summary>Their node is gone or unreachable: nothing more goes to the replica until the node registers again.</summary>
    NodeLost = 1,

    /// <summary>The engine refused them — it runs more than the placement counted — or failed them (an upstream's
    /// error, named in <see cref="RequeuedSequence.Error"/>): the replica takes nothing new until one of its sequences
    /// finishes (or a short hold passes).</summary>
    Rejected = 2,

    /// <summary>The placement stopped them to make room for other jobs (preemption): the replica is as good as before.</summary>
    Preempted = 3,
}

public enum CancelOutcome
{
    NotFound = 0,
    CancelledWhileQueued = 1,
    CancellationRequested = 2,

    /// <summary>Taken out of the queue, where it waited after its node was lost: it had been admitted once, so its
    /// tenant counts it as running.</summary>
    CancelledWhileRequeued = 3,
}

/// <summary>What a cancellation did. A job taken out of its queue never runs, so no node tells its watchers it ended:
/// <paramref name="Watchers"/> are told <paramref name="End"/> by the job's record once it settled the job (a client
/// that saw the end then finds the record ended); <paramref name="Placement"/> is where it was admitted last, if ever.
/// Empty for a running job (its node confirms) or none.</summary>
[GenerateSerializer, Immutable, Alias("scheduler.CancelResult")]
public sealed record CancelResult(
    [property: Id(0)] CancelOutcome Outcome,
    [property: Id(1)] IJobEventSink[] Watchers,
    [property: Id(2)] JobEventRecord? End = null,
    [property: Id(3)] JobPlacement? Placement = null);

[GenerateSerializer, Alias("scheduler.ReplicaSnapshot")]
public sealed record ReplicaSnapshot(
    [property: Id(0)] string ReplicaId,
    [property: Id(1)] string NodeId,
    [property: Id(2)] string AcceleratorId,
    [property: Id(3)] string Product,
    [property: Id(4)] bool Schedulable,
    [property: Id(5)] int MaxSequences,
    [property: Id(6)] long KvCapacityTokens,
    [property: Id(7)] int RunningSequences,
    [property: Id(8)] long FreeKvTokens,
    [property: Id(9)] long Admissions,
    [property: Id(10)] long AdmissionsIntoRunningBatch,
    [property: Id(11)] string[] RunningJobIds,
    [property: Id(12)] int RequestsPerMinute = 0,
    [property: Id(13)] int TokensPerMinute = 0,
    [property: Id(14)] double RequestsAvailable = 0,
    [property: Id(15)] double TokensAvailable = 0,
    [property: Id(16)] int CachedPrefixBlocks = 0,
    [property: Id(17)] long PrefixBlocksForgotten = 0,
    [property: Id(18)] long MaxJobTokens = 0,
    [property: Id(19)] PromptForms RefusedForms = PromptForms.None)
{
    /// <summary>The prompt forms the replica's engine takes (kept as those it refuses: a snapshot from a placement of the
    /// version before reads as taking every form).</summary>
    public PromptForms AcceptedForms => PromptForms.All & ~RefusedForms;
}

[GenerateSerializer, Alias("scheduler.PlacementSnapshot")]
public sealed record PlacementSnapshot(
    [property: Id(0)] string Model,
    [property: Id(1)] int QueuedJobs,
    [property: Id(2)] Dictionary<string, int> QueuedByTenant,
    [property: Id(3)] ReplicaSnapshot[] Replicas,
    [property: Id(4)] string PlacementPolicy,
    [property: Id(5)] string FairnessPolicy,
    [property: Id(6)] string BatchingPolicy,
    [property: Id(7)] QueuedCount[]? QueuedByTenantAndPriority = null,
    [property: Id(8)] CapacitySnapshot? Capacity = null,
    [property: Id(9)] double WaitCostUsdPerSecond = 0,
    [property: Id(10)] Dictionary<string, int>? RunningByTenant = null);

/// <summary>How many jobs of one tenant and priority wait in a model's queue (the queued-jobs gauge).</summary>
[GenerateSerializer, Alias("scheduler.QueuedCount")]
public sealed record QueuedCount(
    [property: Id(0)] string TenantId,
    [property: Id(1)] JobPriority Priority,
    [property: Id(2)] int Count);

/// <summary>The placement's answer to an enqueue: the job's queue position (0 = admitted or next), or that it was
/// shed — a sheddable job while the model's queue is over its overload threshold — and never queued.</summary>
[GenerateSerializer, Alias("scheduler.EnqueueResult")]
public sealed record EnqueueResult(
    [property: Id(0)] int QueuePosition,
    [property: Id(1)] bool Shed = false);
