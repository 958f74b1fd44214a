namespace Scheduler.Policies.Placement;

/// <summary>
/// Picks the cheapest replica predicted to meet the job's TTFT objective; when none can, the one with the
/// earliest predicted first token, because a late answer is worth less than a dear one — unless that one is
/// saturated with prefill, when the job is held in the queue (see <see cref="Choose"/>).
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

        // None meets the objective. If even the fastest already has a full step of prefill waiting, the fleet is
        // saturated: hold the job in the fair queue rather than stack it behind that prefill. It would miss its
        // objective either way, but in the queue it keeps its fair place, and jobs admitted meanwhile are not
        // delayed by it; it goes as soon as a prefill completes somewhere.
        if (cheapest is null && fastest is not null && fastest.PendingPrefillTokens >= fastest.Profile.StepTokenBudget)
        {
            return null;
        }

        return cheapest ?? fastest;
    }
}
