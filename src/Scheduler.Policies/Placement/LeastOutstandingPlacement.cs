namespace Scheduler.Policies.Placement;

/// <summary>
/// Baseline: Envoy's LEAST_REQUEST load balancer (with all hosts weighted equally, Envoy compares active
/// requests). Outstanding requests are the only load signal a proxy sees, so it sends the job to the replica
/// with the fewest running sequences, blind to prompt length, KV cache, accelerator speed and price.
/// Ties go to the first candidate in order, which keeps the choice deterministic.
/// </summary>
internal sealed class LeastOutstandingPlacement : IPlacementPolicy
{
    public const string PolicyName = "least-outstanding";

    public string Name => PolicyName;

    public ReplicaView? Choose(JobDemand job, IReadOnlyList<ReplicaView> candidates)
    {
        ReplicaView? best = null;
        foreach (var replica in candidates)
        {
            // Strictly fewer, so the earliest of equally loaded candidates wins.
            if (best is null || replica.RunningSequences < best.RunningSequences)
            {
                best = replica;
            }
        }

        return best;
    }
}
