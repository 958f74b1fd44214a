namespace Scheduler.Policies.Placement;

/// <summary>
/// Baseline: cache affinity alone, as a prefix-aware router without a cost model does (SGLang's cache-aware router with
/// its load balancing off, llm-d's prefix scorer alone): the replica expected to hold the longest leading part of the
/// job's prompt, ties (among them every replica when none holds any) to the fewest running sequences, then to the first
/// in order. Blind to accelerator speed and price, and it piles a hot prefix on one replica until that one is full.
/// </summary>
internal sealed class PrefixOnlyPlacement : IPlacementPolicy
{
    public const string PolicyName = "prefix-only";

    public string Name => PolicyName;

    public ReplicaView? Choose(JobDemand job, IReadOnlyList<ReplicaView> candidates)
    {
        ReplicaView? best = null;
        var bestCached = -1;
        foreach (var replica in candidates)
        {
            var cached = replica.CachedPromptTokens(job);
            if (cached > bestCached || (cached == bestCached && replica.RunningSequences < best!.RunningSequences))
            {
                best = replica;
                bestCached = cached;
            }
        }

        return best;
    }
}
