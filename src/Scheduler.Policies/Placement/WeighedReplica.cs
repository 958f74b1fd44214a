namespace Scheduler.Policies.Placement;

/// <summary>A replica a placement policy predicted for while choosing where a job goes: what explaining a placement
/// shows (per class of replica: predicted first token, predicted cost, whether it met the job's objective). The cost is
/// what the policy compared: cost-aware's includes the job's wait for its first token at the configured price
/// (<see cref="PlacementSettings.WaitCostUsdPerSecond"/>) and the prefix it would compute again.</summary>
public readonly record struct WeighedReplica(ReplicaView Replica, int RunningSequences, double PredictedTtftMs, double PredictedCostUsd, bool MeetsObjective)
{
    /// <summary>Predicts for <paramref name="replica"/> as it is now.</summary>
    public static WeighedReplica Predict(ReplicaView replica, JobDemand job)
    {
        var ttft = ReplicaPrediction.TtftMs(replica, job);
        return new(replica, replica.RunningSequences, ttft, ReplicaPrediction.CostUsd(replica, job), ttft <= job.TtftObjectiveMs);
    }
}
