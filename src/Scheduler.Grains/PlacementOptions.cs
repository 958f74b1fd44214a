using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;

namespace Scheduler.Grains;

/// <summary>How the scheduler decides (section "Scheduler:Scheduling"). Policies are chosen by name. Not named after
/// its section: Orleans has a <c>SchedulingOptions</c> of its own.</summary>
public sealed class PlacementOptions
{
    public const string Section = "Scheduler:Scheduling";

    /// <summary>"cost-aware" (default), or a baseline: "round-robin" (a Kubernetes Service), "least-outstanding"
    /// (Envoy), "power-of-two" (Ray Serve), "queue-kv" (Gateway API Inference Extension / llm-d).</summary>
    public string PlacementPolicy { get; set; } = SchedulingPolicies.DefaultPlacement;

    /// <summary>"weighted-fair" (default) or "fifo" (the baseline: arrival order, blind to tenants).</summary>
    public string FairnessPolicy { get; set; } = SchedulingPolicies.DefaultFairness;

    /// <summary>"continuous" (default) or "request-level".</summary>
    public string BatchingPolicy { get; set; } = SchedulingPolicies.DefaultBatching;

    /// <summary>What a second of a job's wait for its first token costs, in US dollars: the cost-aware policy adds it,
    /// times the predicted wait, to each replica's predicted cost, so it pays for a faster replica where the waiting it
    /// spares is worth more (docs/internals.md, "Placement"). 0 prices only the accelerators' time (the policy then
    /// spends an objective's whole slack on the cheapest replica, queueing included); at most 1. Default 0.001, about an
    /// A100's second.</summary>
    public double WaitCostUsdPerSecond { get; set; } = PlacementSettings.DefaultWaitCostUsdPerSecond;

    /// <summary>What a second of a session's turn's wait costs, in US dollars, its own and its next turn's on the replica
    /// chosen (<see cref="PlacementSettings.SessionWaitCostUsdPerSecond"/>): the cost-aware policy then starts a
    /// conversation on a fast replica while that replica has no prefill pending and its KV holds the conversations
    /// recently placed there. Default 0.3; 0 prices a session's jobs as any other; at most 1.</summary>
    public double SessionWaitCostUsdPerSecond { get; set; } = PlacementSettings.DefaultSessionWaitCostUsdPerSecond;

    /// <summary>A node that has not sent a heartbeat for this long is lost.</summary>
    public TimeSpan NodeLease { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>How often nodes are asked to send heartbeats.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a replica whose engine refused a sequence takes nothing new, unless one of its sequences
    /// finishes first. It only matters when the engine runs work the placement does not know of.</summary>
    public TimeSpan RejectionHold { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many times an engine may fail a job and hand it back (an upstream's 5xx, 429, broken stream or
    /// connection failure) before the job fails with the engine's last error: an upstream that always fails must not
    /// bounce a job between replicas forever. Hand-backs the job is not at fault for — a lost node, a closed stream,
    /// an engine without room — are not counted. 0 fails a job at its first such hand-back.</summary>
    public int MaxHandBacks { get; set; } = 5;

    /// <summary>How many times one job may be stopped on a replica to make room for a critical or under-share job that
    /// finds no room where it meets its TTFT objective (preemption; see docs/internals.md): the stopped job is queued
    /// again and resumes from the tokens it delivered. Only under weighted-fair queuing and continuous batching; 0 turns
    /// preemption off.</summary>
    public int MaxPreemptions { get; set; } = 2;

    /// <summary>How many consecutive engine steps the decode of a job admitted while its tenant was backlogged in the
    /// fair queue (over its share) may wait while the prompt of an under-share job is prefilled on the same replica, so
    /// that prefill step does not also pay for the flood's decoding sequences (see docs/internals.md, "Engine"). Sent
    /// with each admission (<c>SequenceSpec.decode_deferrals</c>); only under weighted-fair queuing. Off (0) by default:
    /// it does not move the live flood test's figure, and two of eleven live runs with it had an unexplained 0.9 s first
    /// token (docs/benchmarks.md, "Fairness inside the batch"); 2 is the value measured.</summary>
    public int MaxDecodeDeferrals { get; set; }

    /// <summary>The contended prefill cap: a job admitted while its tenant was backlogged in the fair queue (over its
    /// share) prefills, together with the other such jobs on its replica, at most this many prompt tokens an engine step
    /// while a job of a tenant within its share has its prompt pending on that replica, or had, or ended there, within
    /// <see cref="ContendedPrefillWindow"/> (see docs/internals.md, "Engine"). A step cannot be interrupted, so a light
    /// tenant's prompt otherwise waits for a step full of the flood's prefill. Sent with each admission
    /// (<c>SequenceSpec.contended_prefill_tokens</c>); only under weighted-fair queuing; 0 turns it off. Uncontended,
    /// the flood prefills at full speed. Off (0) by default: measured at 256, it made the live flood test's light first
    /// tokens after the first shorter but the simulator's flood scenario's light p99 longer (docs/benchmarks.md,
    /// "Contended prefill cap").</summary>
    public int ContendedPrefillTokens { get; set; } = Dispatcher.DefaultContendedPrefillTokens;

    /// <summary>How long a replica stays contended after an uncapped job's prompt was last pending there or an uncapped
    /// job ended there (a light tenant sends its next
    /// job a few milliseconds after its last one finished, or after a pause to read it). Longer keeps the light tenant's
    /// first job after a pause fast; it costs the flood its full prefill speed for that long after the light tenant's
    /// last job. Sent with each capped admission (<c>SequenceSpec.contended_prefill_window_ms</c>).</summary>
    public TimeSpan ContendedPrefillWindow { get; set; } = TimeSpan.FromMilliseconds(Dispatcher.DefaultContendedPrefillWindowMs);

    /// <summary>How long the job next in fair order may wait for room while smaller jobs of its own priority class take the
    /// room it cannot use, before a replica is set aside for it (nothing else admitted there until it fits), as for a job
    /// of a higher class (see docs/internals.md, "Fairness and admission"). Within a class the queue is work-conserving;
    /// without this bound a large prompt amid steady traffic of small ones waits for as long as the traffic flows.
    /// Default 10 s; 0 keeps the classes purely work-conserving; at most an hour.</summary>
    public TimeSpan SetAsideWithinClassAfter { get; set; } = Dispatcher.DefaultSetAsideWithinClassAfter;

    /// <summary>Overload threshold: while a model has this many jobs queued or more, its sheddable submissions are
    /// refused with RESOURCE_EXHAUSTED (standard and critical ones are still accepted, within their tenants' quotas),
    /// so sheddable work is the first to go. 0 never sheds.</summary>
    public int OverloadQueueLength { get; set; } = 2_000;

    /// <summary>The retry hint given with a refusal for overload or a full max-queued quota.</summary>
    public TimeSpan OverloadRetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long an idempotency key names its job after it was first used: a retry with the key within this
    /// time returns that job. Kept per key, outside the tenant's state (<see cref="Tenants.IIdempotencyKeys"/>). At most
    /// <see cref="JobRetention"/>, so a key never outlives its job's record.</summary>
    public TimeSpan IdempotencyKeyLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Idempotency keys remembered per tenant when they are kept in the silo's memory (the embedded default;
    /// the oldest are forgotten first). Redis keeps every key for its lifetime.</summary>
    public int IdempotencyKeysPerTenant { get; set; } = 10_000;

    /// <summary>How often a tenant's unfinished jobs and usage are written, when they changed, where state outlives the
    /// silo (Redis mode; in memory they are written when the tenant deactivates). A job's own record and journal entry
    /// are exact; these counts can lose at most this much to a silo crash.</summary>
    public TimeSpan TenantStateWriteInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often, at most, a tenant whose usage changed reports it to the cluster's sum
    /// (<see cref="Abstractions.Tenants.IClusterUsageGrain"/>), which the cluster summary reads: how stale the summary's
    /// usage may be, and one grain call per busy tenant per interval.</summary>
    public TimeSpan TenantUsageReportInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a job is kept: listed (ListJobs) for this long after its submission, and its finished record
    /// (GetJob, WatchJob, ExplainJob) kept for this long after its end; then GetJob answers NOT_FOUND. An unfinished job
    /// is never expired. In Redis the record is written with this expiry; in the silo's memory (the embedded default)
    /// it is trimmed as jobs settle, and at most <see cref="MaxSettledJobsInMemory"/> are kept.</summary>
    public TimeSpan JobRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Deprecated: the name <see cref="JobRetention"/> had while it governed only the listing. Still read, with a
    /// warning at start-up, where <see cref="JobRetention"/> is not set.</summary>
    public TimeSpan? JobListRetention { get; set; }

    /// <summary>The most finished jobs whose records the silo's memory keeps (the embedded default; Redis keeps them
    /// for <see cref="JobRetention"/>), and the most jobs its listing holds: past it the oldest are dropped first, since
    /// memory, not days, bounds a single process. A record took 2.6 KB with a one-line prompt and a 16-token answer
    /// (docs/operations.md, "How long jobs are kept"), so the default holds about 130 MB of such records.</summary>
    public int MaxSettledJobsInMemory { get; set; } = 50_000;

    /// <summary>How the placement sizes its accelerator pools: the capacity signal for an autoscaler.</summary>
    public CapacityOptions Capacity { get; set; } = new();
}
