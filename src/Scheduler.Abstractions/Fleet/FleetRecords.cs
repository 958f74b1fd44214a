using Scheduler.Policies;
using Scheduler.Abstractions.Jobs;
using Scheduler.Policies.Capacity;
using Scheduler.Policies.Profiles;

namespace Scheduler.Abstractions.Fleet;

public enum AcceleratorState
{
    Ready = 1,
    Cordoned = 2,
    Draining = 3,
    Lost = 4,
}

/// <summary>One accelerator of a node; <see cref="Pool"/>: the worker pool its node named for it (null: none, the
/// product's pool).</summary>
[GenerateSerializer, Alias("scheduler.AcceleratorRegistration")]
public sealed record AcceleratorRegistration(
    [property: Id(0)] string AcceleratorId,
    [property: Id(1)] string NodeId,
    [property: Id(2)] AcceleratorProfile Profile,
    [property: Id(3)] string? Pool = null);

/// <summary>One engine instance of a model on one accelerator. <see cref="QueueAhead"/>: admissions its node holds beyond
/// <see cref="MaxSequences"/>, started the moment a slot frees; the placement admits that many more (0 from a node of
/// an earlier version). <see cref="RequestsPerMinute"/> and <see cref="TokensPerMinute"/>: a metered endpoint's limits,
/// which its engine keeps and the placement mirrors to predict the wait they impose (0: none). <see cref="Pool"/>: its
/// accelerator's worker pool as its node named it (null: none).</summary>
[GenerateSerializer, Alias("scheduler.ReplicaRegistration")]
public sealed record ReplicaRegistration(
    [property: Id(0)] string ReplicaId,
    [property: Id(1)] string Model,
    [property: Id(2)] string AcceleratorId,
    [property: Id(3)] string NodeId,
    [property: Id(4)] AcceleratorProfile Profile,
    [property: Id(5)] int MaxSequences,
    [property: Id(6)] long KvCapacityTokens,
    [property: Id(7)] int MaxContextTokens,
    [property: Id(8)] int QueueAhead = 0,
    [property: Id(9)] int RequestsPerMinute = 0,
    [property: Id(10)] int TokensPerMinute = 0,
    [property: Id(11)] string? Pool = null,
    [property: Id(12)] PromptForms RefusedForms = PromptForms.None)
{
    /// <summary>The worker pool its accelerator belongs to: the one its node named, else its product's (a node of an
    /// earlier version names none).</summary>
    public string PoolName => PoolNames.Of(Pool, Profile.Product);

    /// <summary>The prompt forms its engine takes. Kept as the forms it refuses, so that a registration without the field
    /// (persisted, or from a silo, before it existed) reads as taking every form rather than none.</summary>
    public PromptForms AcceptedForms => PromptForms.All & ~RefusedForms;
}

/// <summary>A node as it registered. <see cref="InstanceId"/> is random per start of its process (null from a node that
/// predates it): two processes registering one node id are told apart by it.</summary>
[GenerateSerializer, Alias("scheduler.NodeRegistration")]
public sealed record NodeRegistration(
    [property: Id(0)] string NodeId,
    [property: Id(1)] string Address,
    [property: Id(2)] string Engine,
    [property: Id(3)] AcceleratorRegistration[] Accelerators,
    [property: Id(4)] ReplicaRegistration[] Replicas,
    [property: Id(5)] string? InstanceId = null)
{
    /// <summary>Whether a call from the process <paramref name="instanceId"/> speaks for this registration: the same
    /// process, or either side without an instance id (a node or a caller that predates it).</summary>
    public bool IsInstance(string? instanceId) =>
        string.IsNullOrEmpty(InstanceId) || string.IsNullOrEmpty(instanceId) || InstanceId == instanceId;
}

/// <summary>The lease granted to a registration, or, when <see cref="HeldBy"/> is set, the refusal of one: another
/// process holds the node id with a live lease, at that address.</summary>
[GenerateSerializer, Alias("scheduler.NodeLease")]
public sealed record NodeLease(
    [property: Id(0)] TimeSpan Lease,
    [property: Id(1)] TimeSpan HeartbeatInterval,
    [property: Id(2)] string? HeldBy = null);

[GenerateSerializer, Alias("scheduler.NodeInfo")]
public sealed record NodeInfo(
    [property: Id(0)] NodeRegistration? Registration,
    [property: Id(1)] bool Connected,
    [property: Id(2)] DateTimeOffset LastHeartbeat);

[GenerateSerializer, Alias("scheduler.AcceleratorInfo")]
public sealed record AcceleratorInfo(
    [property: Id(0)] AcceleratorRegistration Registration,
    [property: Id(1)] AcceleratorState State,
    [property: Id(2)] string[] ReplicaIds,
    [property: Id(3)] double Utilization);

/// <summary>A replica's running batch as its engine last reported it.</summary>
[GenerateSerializer, Alias("scheduler.EngineCapacity")]
public sealed record EngineCapacity(
    [property: Id(0)] int RunningSequences,
    [property: Id(1)] long KvTokensUsed,
    [property: Id(2)] int PeakSequences,
    [property: Id(3)] long PeakKvTokens,
    [property: Id(4)] long RejectedAdmissions,
    [property: Id(5)] double OutputTokensPerSecond,
    [property: Id(6)] DateTimeOffset ReportedAt,
    [property: Id(7)] DecodeCounters? Decodes = null);

/// <summary>How an engine that batches into decode calls (llama.cpp) has batched since its replica started: its
/// decode calls, and the sequences and tokens they held in total and at most.</summary>
[GenerateSerializer, Alias("scheduler.DecodeCounters")]
public sealed record DecodeCounters(
    [property: Id(0)] long Calls,
    [property: Id(1)] long Sequences,
    [property: Id(2)] int PeakSequences,
    [property: Id(3)] long Tokens,
    [property: Id(4)] int PeakTokens)
{
    /// <summary>Sequences per decode call on average: above 1, sequences shared decode calls.</summary>
    public double MeanSequences => Calls > 0 ? (double)Sequences / Calls : 0;
}

[GenerateSerializer, Alias("scheduler.ReplicaInfo")]
public sealed record ReplicaInfo(
    [property: Id(0)] ReplicaRegistration Registration,
    [property: Id(1)] EngineCapacity? Engine);

/// <summary>A job the placement admitted into a replica, on its way to the node.</summary>
/// <param name="Ticket">The job.</param>
/// <param name="Placement">Where it runs.</param>
/// <param name="FairRank">Its fair rank on the replica: the engine prefills lower ranks first (see
/// <c>FairRank</c>); 0 for all keeps admission order.</param>
/// <param name="Displaces">The job running on the replica that the placement stopped to make room for this one
/// (preemption): the node stops it before admitting this one. Null when it took free room.</param>
/// <param name="DecodeDeferrals">How many consecutive steps its decode may wait while an under-share job's prompt is
/// prefilled on the replica (its tenant was backlogged, over its share); 0 never.</param>
/// <param name="ContendedPrefillTokens">Prompt tokens a step it may prefill, together with the other capped sequences,
/// while its replica is contended (its tenant was backlogged, over its share); 0 uncapped.</param>
/// <param name="ContendedPrefillWindowMs">How long its replica stays contended after it last held an uncapped
/// sequence.</param>
/// <param name="Trace">The placement's trace of the job up to this admission: the job's record keeps it once the job
/// settles (its node link settles it, <c>JobSettlement</c>).</param>
[GenerateSerializer, Immutable, Alias("scheduler.AdmittedSequence")]
public sealed record AdmittedSequence(
    [property: Id(0)] JobTicket Ticket,
    [property: Id(1)] JobPlacement Placement,
    [property: Id(2)] double FairRank = 0,
    [property: Id(3)] string? Displaces = null,
    [property: Id(4)] int DecodeDeferrals = 0,
    [property: Id(5)] int ContendedPrefillTokens = 0,
    [property: Id(6)] int ContendedPrefillWindowMs = 0,
    [property: Id(7)] JobTraceEvent[]? Trace = null);
