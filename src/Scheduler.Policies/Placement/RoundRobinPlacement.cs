namespace Scheduler.Policies.Placement;

/// <summary>Baseline: what a Kubernetes Service does — the next replica in turn, blind to cost and load.</summary>
internal sealed class RoundRobinPlacement : IPlacementPolicy
{
    public const string PolicyName = "round-robin";
    private long _cursor = -1;

    public string Name => PolicyName;

    public ReplicaView? Choose(JobDemand job, IReadOnlyList<ReplicaView> candidates)
    {
        if (candidates.Count == 0)
        {
            return null;
        }

        // Candidates change as replicas fill; turning by a global cursor still spreads jobs evenly.
        _cursor++;
        return candidates[(int)(_cursor % candidates.Count)];
    }
}
