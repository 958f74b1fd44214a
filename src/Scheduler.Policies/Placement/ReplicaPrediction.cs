namespace Scheduler.Policies.Placement;

/// <summary>
/// Predicts, from a replica's profile and running batch, when a job's first token would come and what the
/// job would cost there. Used by the cost-aware policy and reported by the simulator.
/// </summary>
public static class ReplicaPrediction
{
    /// <summary>Time to first token if the job joined the replica's batch now: its prefill (behind the prefill
    /// already pending there) is chunked over steps of the batch, each step also decoding the running sequences.</summary>
    public static double TtftMs(ReplicaView replica, JobDemand job)
    {
        var profile = replica.Profile;
        var prefillTokens = replica.PendingPrefillTokens + job.PromptTokens;
        var steps = Math.Max(1, (long)Math.Ceiling(prefillTokens / (double)Math.Max(1, profile.StepTokenBudget - replica.RunningSequences)));
        var decodeMsPerStep = replica.RunningSequences > 0
            ? profile.DecodeStepBaseMs + (profile.DecodeStepPerSequenceMs * replica.RunningSequences)
            : profile.DecodeStepBaseMs;
        return (steps * decodeMsPerStep) + (prefillTokens * 1000.0 / profile.PrefillTokensPerSecond);
    }

    /// <summary>Milliseconds per output token once the job decodes alongside the running batch.</summary>
    public static double TimePerOutputTokenMs(ReplicaView replica) =>
        replica.Profile.DecodeStepBaseMs + (replica.Profile.DecodeStepPerSequenceMs * (replica.RunningSequences + 1));

    /// <summary>Predicted cost of the job: metered per token, or the hourly price times the job's share
    /// (one sequence of the batch) of the accelerator's time while it runs.</summary>
    public static double CostUsd(ReplicaView replica, JobDemand job) => CostUsd(replica, job, TtftMs(replica, job));

    /// <summary><see cref="CostUsd(ReplicaView, JobDemand)"/> for a caller that has already predicted the TTFT.</summary>
    internal static double CostUsd(ReplicaView replica, JobDemand job, double ttftMs)
    {
        var profile = replica.Profile;
        if (profile.IsMetered)
        {
            return profile.MeteredCostUsd(job.PromptTokens, job.MaxTokens);
        }

        var seconds = (ttftMs + (job.MaxTokens * TimePerOutputTokenMs(replica))) / 1000.0;
        return profile.HourlyCostUsd(seconds) / (replica.RunningSequences + 1);
    }
}
