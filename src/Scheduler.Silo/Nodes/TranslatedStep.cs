using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Placement;

namespace Scheduler.Silo.Nodes;

/// <summary>What one step report of a replica means for the cluster, for the node link to send.</summary>
/// <param name="Replica">The replica that stepped.</param>
/// <param name="Events">The step's token events, one call per destination silo.</param>
/// <param name="Prefilled">Jobs that got their first token in this step (their prefill is done).</param>
/// <param name="Finished">Jobs the engine finished, for the placement to free their reservations once their records hold their ends.</param>
/// <param name="Refused">Jobs the engine refused at admission: back to their queue.</param>
/// <param name="Outcomes">The finished jobs' outcomes, to record and then announce to their watchers: one per finished
/// job, in <paramref name="Finished"/>'s order.</param>
/// <param name="Capacity">The replica's capacity, when a report of it is due.</param>
/// <param name="Preempted">Jobs the engine stopped because the placement preempted them: back to their queue.</param>
/// <param name="EvictedPrefixBlocks">Prompt blocks the engine's prefix cache evicted, for the placement's index to forget.</param>
internal sealed record TranslatedStep(
    ReplicaRegistration Replica,
    EventBatch Events,
    string[] Prefilled,
    FinishedSequence[] Finished,
    RequeuedSequence[] Refused,
    FinishedJob[] Outcomes,
    EngineCapacity? Capacity,
    RequeuedSequence[] Preempted,
    ulong[] EvictedPrefixBlocks)
{
    /// <summary>True when the placement has news to hear at once: a prefill done or cached blocks evicted. (The finishes
    /// it hears once their records hold the ends: <see cref="GrpcNodeLink"/>.)</summary>
    public bool HasProgress => Prefilled.Length > 0 || EvictedPrefixBlocks.Length > 0;
}
