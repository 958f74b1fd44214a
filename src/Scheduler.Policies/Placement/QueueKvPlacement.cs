namespace Scheduler.Policies.Placement;

/// <summary>
/// Baseline: the endpoint picker of the Kubernetes Gateway API Inference Extension, as configured by llm-d
/// (its queue scorer and KV-cache-utilisation scorer, equally weighted, without the prefix-cache scorer the
/// scheduler has no data for). The picker reads per-replica metrics from the model server, so it sees load
/// and memory pressure but not the accelerator's speed or price. Each candidate scores
/// <c><see cref="QueueWeight"/> × running ÷ max sequences + <see cref="KvWeight"/> × reserved ÷ capacity KV
/// tokens</c>, both terms in [0, 1], and the lowest score wins: an idle replica with an empty cache first,
/// and between a busy one and one whose cache is nearly full (which would soon preempt), whichever is less
/// loaded overall. Equal weights, as in llm-d's default profile, let neither signal dominate. Ties go to the
/// first candidate in order.
/// </summary>
internal sealed class QueueKvPlacement : IPlacementPolicy
{
    public const string PolicyName = "queue-kv";

    /// <summary>Weight of the normalised queue depth (running sequences ÷ max sequences).</summary>
    public const double QueueWeight = 0.5;

    /// <summary>Weight of KV-cache utilisation (reserved KV tokens ÷ KV capacity).</summary>
    public const double KvWeight = 0.5;

    public string Name => PolicyName;

    public ReplicaView? Choose(JobDemand job, IReadOnlyList<ReplicaView> candidates)
    {
        ReplicaView? best = null;
        var bestScore = double.MaxValue;
        foreach (var replica in candidates)
        {
            var score = Score(replica);
            if (score < bestScore)
            {
                best = replica;
                bestScore = score;
            }
        }

        return best;
    }

    /// <summary>The replica's score; lower is better.</summary>
    public static double Score(ReplicaView replica) =>
        (QueueWeight * Utilisation(replica.RunningSequences, replica.MaxSequences))
        + (KvWeight * Utilisation(replica.ReservedKvTokens, replica.KvCapacityTokens));

    // A replica with no capacity counts as full.
    private static double Utilisation(double used, double capacity) => capacity > 0 ? Math.Clamp(used / capacity, 0, 1) : 1;
}
