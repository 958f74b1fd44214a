namespace Scheduler.Policies.Profiles;

/// <summary>A sequence of a batch as the shared step model (<see cref="StepPlan.ForBatch{T}"/>) sees it: the worker's
/// engines and the simulator implement it on their own sequences.</summary>
public interface IPlannedSequence
{
    /// <summary>True when the sequence has a token to decode in the next step (its prompt is in the KV cache).</summary>
    bool Decoding { get; }

    /// <summary>The scheduler's fair rank for it: the batch is in <see cref="PrefillOrder"/> of it, and a newcomer
    /// ranked ahead of a step's later prefill micro-batches ends the step early (<see cref="StepPlan.YieldAfter"/>).</summary>
    double FairRank { get; }

    /// <summary>Prompt tokens (plus resumed output tokens) not yet in the KV cache.</summary>
    int PrefillRemaining { get; }

    /// <summary>How many consecutive steps its decode may wait while another tenant's prompt is prefilled (the
    /// scheduler's <c>SequenceSpec.decode_deferrals</c>, set for a tenant over its share); 0 never waits, and such a
    /// sequence's pending prefill is what others wait for.</summary>
    int DecodeDeferrals { get; }

    /// <summary>At most this many prompt tokens a step, together with the other capped sequences, while its replica is
    /// contended (the scheduler's <c>SequenceSpec.contended_prefill_tokens</c>, set for a tenant over its share; see
    /// <see cref="StepPlan.TakePrefill{T}"/>); 0 is never capped, and such a sequence's pending prompt (or its leaving) is
    /// what makes the replica contended.</summary>
    int ContendedPrefillTokens { get; }

    /// <summary>How long after an uncapped sequence last had prefill pending on its replica, or left it, the cap still
    /// applies, in milliseconds (<see cref="PrefillContention"/>).</summary>
    int ContendedPrefillWindowMs { get; }

    /// <summary>Consecutive steps its decode waited so far; kept by <see cref="StepPlan.ForBatch{T}"/>.</summary>
    int DeferredSteps { get; set; }
}
