namespace Scheduler.Policies.Dispatch;

/// <summary>Why an admission round ended with jobs still queued, and the most KV any open replica with a free slot
/// had left (<see cref="long.MinValue"/> when none had a free slot): enough to tell each waiting job why it waited,
/// without looking at every queued job in every round.</summary>
public readonly record struct RoundStop(RoundStopReason Reason, long MaxFreeKvTokens);

public enum RoundStopReason
{
    /// <summary>Every queued job was admitted (or none was queued).</summary>
    QueueEmpty = 0,

    /// <summary>The model has no replica.</summary>
    NoReplicas = 1,

    /// <summary>No queued job fit any open replica: no free slot, or not enough KV room where a slot was free.</summary>
    NothingFits = 2,

    /// <summary>The placement policy held the job it was offered (<see cref="Dispatcher.LastHeld"/>): cost-aware does
    /// when no replica is predicted to meet its TTFT objective and even the fastest is saturated with prefill.</summary>
    PolicyHeld = 3,

    /// <summary>The model has replicas, but every one is switched off (cordoned, draining, lost or not connected): no job
    /// fits until an operator uncordons one or a node (re)connects.</summary>
    NoneSchedulable = 4,
}
