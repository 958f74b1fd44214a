namespace Scheduler.Policies.Placement;

/// <summary>
/// Picks the cheapest replica predicted to meet the job's TTFT objective; when none can, the one with the
/// earliest predicted first token, because a late answer is worth less than a dear one.
/// </summary>
internal sealed class CostAwarePlacement : IPlacementPolicy
{
    public const string PolicyName = "cost-aware";

    public string Name => PolicyName;

    public ReplicaView? Choose(JobDemand job, IReadOnlyList<ReplicaView> candidates)
    {
        ReplicaView? cheapest = null;
        var cheapestCost = double.MaxValue;
        ReplicaView? fastest = null;
        var fastestTtft = double.MaxValue;

        foreach (var replica in candidates)
        {
            var ttft = ReplicaPrediction.TtftMs(replica, job);
            if (ttft < fastestTtft)
            {
                fastest = replica;
                fastestTtft = ttft;
            }

            if (ttft <= job.TtftObjectiveMs)
            {
                var cost = ReplicaPrediction.CostUsd(replica, job);
                if (cost < cheapestCost)
                {
                    cheapest = replica;
                    cheapestCost = cost;
                }
            }
        }

        return cheapest ?? fastest;
    }
}
