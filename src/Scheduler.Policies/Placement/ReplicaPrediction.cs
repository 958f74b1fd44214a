using Scheduler.Policies.Profiles;

namespace Scheduler.Policies.Placement;

/// <summary>
/// Predicts, from a replica's profile and running batch, when a job's first token would come and what the
/// job would cost there. Used by the cost-aware policy and reported by the simulator. The internal overloads take the
/// batch's numbers directly, so the replica index predicts from what it filed without touching the view.
/// </summary>
public static class ReplicaPrediction
{
    /// <summary>Time to first token if the job joined the replica's batch now: its prefill (behind the prefill
    /// already pending there) is chunked over steps of the batch, each step also decoding the running sequences. Only
    /// the prompt tokens not expected in the replica's prefix cache are prefilled.</summary>
    public static double TtftMs(ReplicaView replica, JobDemand job) =>
        TtftMs(replica.Profile, replica.RunningSequences, replica.PendingPrefillTokens, job.PromptTokens - replica.CachedPromptTokens(job));

    /// <summary>Milliseconds per output token once the job decodes alongside the running batch.</summary>
    public static double TimePerOutputTokenMs(ReplicaView replica) => TimePerOutputTokenMs(replica.Profile, replica.RunningSequences);

    /// <summary>Predicted cost of the job: metered per token, or the hourly price times the job's share
    /// (one sequence of the batch) of the accelerator's time while it runs.</summary>
    public static double CostUsd(ReplicaView replica, JobDemand job) =>
        CostUsd(replica.Profile, replica.RunningSequences, job.PromptTokens - replica.CachedPromptTokens(job), job.MaxTokens, TtftMs(replica, job));

    /// <summary>Predicted first token of <paramref name="promptTokens"/> prefilled on an idle replica of
    /// <paramref name="profile"/>, nothing cached: a step budget at a time, each step paying its launch.</summary>
    public static double IdleTtftMs(AcceleratorProfile profile, int promptTokens) =>
        TtftMs(profile, running: 0, pendingPrefillTokens: 0, promptTokens);

    /// <summary>Predicted first token when <paramref name="promptTokens"/> of the job's prompt need prefill there (those
    /// not cached): the index predicts from numbers, so a prediction allocates nothing.</summary>
    internal static double TtftMs(AcceleratorProfile profile, int running, long pendingPrefillTokens, int promptTokens)
    {
        var prefillTokens = pendingPrefillTokens + promptTokens;
        var steps = Math.Max(1, (long)Math.Ceiling(prefillTokens / (double)Math.Max(1, profile.StepTokenBudget - running)));
        var decodeMsPerStep = running > 0
            ? profile.DecodeStepBaseMs + (profile.DecodeStepPerSequenceMs * running)
            : profile.DecodeStepBaseMs;
        // A busy replica is mid-step: the job joins at the next step boundary, up to one step from now.
        var joinMs = running > 0 ? decodeMsPerStep : 0;
        return joinMs + (steps * decodeMsPerStep) + (prefillTokens * 1000.0 / profile.PrefillTokensPerSecond);
    }

    internal static double TimePerOutputTokenMs(AcceleratorProfile profile, int running) =>
        profile.DecodeStepBaseMs + (profile.DecodeStepPerSequenceMs * (running + 1));

    /// <summary>The predicted cost for a caller that has already predicted the TTFT, of a job whose
    /// <paramref name="promptTokens"/> uncached prompt tokens are prefilled there.</summary>
    internal static double CostUsd(AcceleratorProfile profile, int running, int promptTokens, int maxTokens, double ttftMs)
    {
        if (profile.IsMetered)
        {
            return profile.MeteredCostUsd(promptTokens, maxTokens);
        }

        var seconds = (ttftMs + (maxTokens * TimePerOutputTokenMs(profile, running))) / 1000.0;
        return profile.HourlyCostUsd(seconds) / (running + 1);
    }

    /// <summary>What losing a session's holder costs, in recomputes of its context: the next turn's, those of the turns
    /// after it, which follow the context to wherever it is rebuilt (and which that replica, chosen under pressure, may
    /// lose again), and the other jobs' waits behind those recomputes on a loaded fleet, where one lost context makes
    /// the next loss likelier. Chosen by measurement, not derived: on the simulator's prefix workloads over ten seeds,
    /// 4 (the fifth round's) left a loaded fleet able to tip into losing most contexts (agents at three times their rate
    /// held 44% of the oracle's hits); 32–96 still tipped on some seeds; 128 held ≥ 92% on every row's mean at 1–2× the
    /// unloaded cost of 4, still far below the load-only baselines'; 256 and above cost more again for little
    /// (docs/benchmarks.md, issue 14 "Sixth round").</summary>
    internal const double SessionLossWeight = 128;

    /// <summary>
    /// What a session's job is expected to cost its later turns in recompute by being placed on a replica whose batch,
    /// with it, takes <paramref name="running"/> + 1 of <paramref name="maxSequences"/> slots and as many times the job's
    /// KV of <paramref name="kvCapacityTokens"/>: the next turn resends this prompt and its answer, and a replica packed
    /// that full keeps idle blocks only in the room its reservations leave, so it evicts them at its next admissions, and
    /// has no slot or room for the next turn when it comes. The chance is that share (at most 1), the loss
    /// <see cref="SessionLossWeight"/> recomputes of prompt and answer as <see cref="RecomputeCostUsd"/> prices them. It
    /// is a function of the class, the running count and the job only, so the replica index's one replica per class and
    /// running count still ranks first.
    /// </summary>
    internal static double SessionLossCostUsd(AcceleratorProfile profile, int maxSequences, long kvCapacityTokens, int running, JobDemand job)
    {
        var batch = running + 1.0;
        var packed = Math.Min(1, Math.Max(batch / Math.Max(1, maxSequences), batch * job.KvTokens / Math.Max(1.0, kvCapacityTokens)));
        return packed * SessionLossWeight * RecomputeCostUsd(profile, (int)Math.Min(int.MaxValue, job.KvTokens));
    }

    /// <summary>The predicted first token of a session's next turn on a replica where the job joins
    /// <paramref name="running"/> sequences and its context stays cached: its new tokens, about as many as the job's
    /// answer, prefilled behind a batch that holds the job.</summary>
    internal static double NextTurnTtftMs(AcceleratorProfile profile, int running, JobDemand job) =>
        TtftMs(profile, running + 1, 0, job.MaxTokens);

    /// <summary>
    /// What it costs to prefill <paramref name="tokens"/> prompt tokens again that another replica holds in its prefix
    /// cache: the input price on a metered endpoint; on hourly capacity the accelerator's whole time for that prefill,
    /// not a share of it, because a prefill chunk takes the step from every sequence of the batch. A placement that
    /// leaves a cached prefix unused is charged this on top of its own cost (<see cref="CostAwarePlacement"/>).
    /// </summary>
    internal static double RecomputeCostUsd(AcceleratorProfile profile, int tokens) =>
        tokens <= 0 ? 0
        : profile.IsMetered ? profile.MeteredCostUsd(tokens, 0)
        : profile.HourlyCostUsd(tokens / profile.PrefillTokensPerSecond);
}
