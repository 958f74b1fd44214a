using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Abstractions.Placement;

/// <summary>
/// One per model: the model's queue in fair order and the scheduler's view of every replica's running batch.
/// It performs continuous batching and cost-aware dispatch from state pushed to it; it never calls out to
/// other grains to decide.
/// </summary>
public interface IPlacementGrain : IGrainWithStringKey
{
    /// <summary>Queues a job and admits whatever fits. Returns the job's queue position (0 = admitted or next), or
    /// that a sheddable job was refused because the model's queue is overloaded.</summary>
    Task<EnqueueResult> Enqueue(JobTicket ticket);

    /// <summary>Tenant <paramref name="tenantId"/>'s weight was changed to <paramref name="weight"/> at
    /// <paramref name="at"/> (the tenant grain's clock, as its tickets' SubmittedAt): its jobs queued here are served by
    /// it from the next pick on, and a job accepted before the change, queued later, does not set the old one back.</summary>
    Task SetTenantWeight(string tenantId, double weight, DateTimeOffset at);

    /// <summary>Adds or refreshes replicas (a node registered and opened execution stream <paramref name="linkId"/>);
    /// they become schedulable but those in <paramref name="closed"/> (their accelerator is cordoned or draining), in
    /// the same turn, so no admission round ever finds a cordoned replica open. Jobs still counted on a replica under an
    /// earlier stream are gone with that stream: they go back to the front of their queues.</summary>
    Task UpsertReplicas(string linkId, ReplicaRegistration[] replicas, string[] closed);

    /// <summary>The same with none closed, as node grains of the version before send it (their registration closed the
    /// cordoned ones with <see cref="SetSchedulable"/> right after): kept so their calls still land while silos of both
    /// versions run (a rolling upgrade).</summary>
    Task UpsertReplicas(string linkId, ReplicaRegistration[] replicas);

    /// <summary>The replicas' node is forgotten: they leave the placement (and its persisted state). A job still counted
    /// on one goes back to the front of its queue first, to resume where its ticket says, so nothing is lost should the
    /// node's own hand-back arrive after this (it names a replica no longer known, and is ignored).</summary>
    Task RemoveReplicas(string[] replicaIds);

    /// <summary>Accelerator state or node connectivity changed.</summary>
    Task SetSchedulable(string replicaId, bool schedulable);

    /// <summary>One engine step's news for a replica: sequences whose first token came, sequences that finished, and the
    /// prompt blocks its prefix cache evicted (by chained hash, in eviction order; empty when it reports none).</summary>
    Task OnProgress(string replicaId, string[] prefilled, FinishedSequence[] finished, ulong[] evictedPrefixBlocks);

    /// <summary>The same news without evictions, as silos of the version before cache events send it: kept so their node
    /// links' calls still land while silos of both versions run (a rolling upgrade). A grain method's parameter types are
    /// part of its identity, so adding one makes another method.</summary>
    Task OnProgress(string replicaId, string[] prefilled, FinishedSequence[] finished);

    /// <summary>Sequences that finished on a replica reached through stream <paramref name="linkId"/>, whose records
    /// storage refused to write (a Redis outage): their node link writes them again until they land, and tells
    /// <see cref="OnRecorded"/> then. They leave their replica as finished ones do (their slots and KV are free at once),
    /// but their outcomes are kept under the stream until then: should the stream die first (its silo with it, and the
    /// writes), this placement writes them itself — else they stayed journaled, held by nobody. Sent only when a write
    /// was refused: a finish whose record was written goes with <see cref="OnProgress(string, string[], FinishedSequence[], ulong[])"/>.</summary>
    Task OnFinishedUnrecorded(string replicaId, string linkId, UnrecordedFinish[] finished);

    /// <summary>The records of jobs <see cref="OnFinishedUnrecorded"/> named under stream <paramref name="linkId"/> were
    /// written at last: their outcomes are forgotten here.</summary>
    [OneWay]
    Task OnRecorded(string linkId, string[] jobIds);

    /// <summary>Running jobs come back from a replica (its node's stream broke or closed, could not take them, or its
    /// engine refused them): they go to the front of their queues, and <paramref name="reason"/> says what becomes of
    /// the replica. A report naming a stream (<paramref name="linkId"/>) the replica no longer uses is stale and
    /// ignored; null means the jobs never reached any stream.</summary>
    Task Requeue(string replicaId, string? linkId, RequeuedSequence[] sequences, HandBack reason);

    /// <summary>Node <paramref name="nodeId"/> was lost after the silo holding its execution stream
    /// <paramref name="linkId"/> died: the stream died with it and handed nothing back. Every job counted on a replica
    /// still reached through that stream goes back to the front of its queue, resuming where its journaled ticket says,
    /// and those replicas take nothing until the node registers again. A stream the replicas no longer use (the node
    /// registered anew) changes nothing.</summary>
    Task NodeLost(string nodeId, string linkId);

    /// <summary>Wakes the placement: after a silo failure it rebuilds its queue from the job journal on activation,
    /// and the worker nodes serving the model call this periodically so that happens without new submissions.</summary>
    [OneWay]
    Task Wake();

    /// <summary>Cancels a queued job (taken out of its queue: the caller settles it and tells its watchers) or a running
    /// one (its node is asked to stop it, and confirms with the job's end).</summary>
    Task<CancelResult> Cancel(string jobId);

    /// <summary>Attaches a watcher to a queued or running job. False when the job is neither. Interleaves: it waits on
    /// the journal and on the job's node, and the model's whole admission loop must not wait with it (a node grain
    /// caught in a failover can take a response timeout to answer).</summary>
    [AlwaysInterleave]
    Task<bool> Attach(string jobId, IJobEventSink sink, int fromToken);

    Task<PlacementSnapshot> GetSnapshot();

    /// <summary>A queued or running job's trace as this placement holds it, its waiting lines up to the last round,
    /// and its queue position when queued; null when the job is neither.</summary>
    Task<LiveJobTrace?> Explain(string jobId);

    /// <summary>A queued or running job as this placement holds it, for its record to show (the record is not told
    /// when a job is admitted or handed back); null when the job is neither.</summary>
    Task<LiveJob?> Describe(string jobId);
}

/// <summary>An unfinished job as its placement holds it. <paramref name="Ticket"/>: as journaled, with its hand-backs
/// and the last one's reason; <paramref name="Status"/>: running while a replica holds it, queued while it waits (before
/// its first admission, and again after a hand-back until it is re-admitted); <paramref name="Placement"/>: where it
/// runs, null while it is queued (a re-queued job's ticket says where it ran: <c>JobTicket.LastRequeue</c>);
/// <paramref name="CancelRequested"/>: a cancellation was asked for while it ran, and its node has not confirmed it.</summary>
[GenerateSerializer, Immutable, Alias("scheduler.LiveJob")]
public sealed record LiveJob(
    [property: Id(0)] JobTicket Ticket,
    [property: Id(1)] JobStatus Status,
    [property: Id(2)] JobPlacement? Placement,
    [property: Id(3)] bool CancelRequested);

[GenerateSerializer, Alias("scheduler.LiveJobTrace")]
public sealed record LiveJobTrace(
    [property: Id(0)] JobTraceEvent[] Events,
    [property: Id(1)] int? QueuePosition);
