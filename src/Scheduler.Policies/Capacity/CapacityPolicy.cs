using Scheduler.Policies.Profiles;

namespace Scheduler.Policies.Capacity;

/// <summary>
/// How many replicas each accelerator pool should have for the demand: the capacity signal an autoscaler follows,
/// computed by the placement grain (its gauge and <c>AdminService</c>) and by the simulator's autoscaled pools alike.
/// <list type="number">
/// <item>The load: the recent arrival rate of prompt and output tokens, plus the queued tokens spread over the pool's
/// cold start (capacity asked for now arrives only then, so the backlog must be drained by what comes).</item>
/// <item>Each pool's busy time for that load from the shared step model: prefill at the profile's speed, decode at
/// the batch its KV cache holds for the mean request; so its cost per unit of load is its hourly price times that.</item>
/// <item>Pools are filled cheapest per unit of load first, each up to its maximum, at a target utilisation; below the
/// attainment objective the target drops (more headroom) until attainment recovers.</item>
/// </list>
/// Metered pools cost nothing idle and are not provisioned: they keep their replicas and are left out of the sizing,
/// which is conservative (what they absorb is not subtracted). Scale-down hysteresis is the actuator's (an autoscaler's
/// stabilisation window, the simulator's idle time): this class only says what it wants now.
/// </summary>
/// <param name="targetUtilisation">Busy share each replica is sized for, in (0, 1].</param>
/// <param name="attainmentObjective">Share of jobs that should meet their TTFT objective.</param>
/// <param name="headroomBelowObjective">Factor on the target utilisation while attainment is below the objective.</param>
public sealed class CapacityPolicy(double targetUtilisation = 0.7, double attainmentObjective = 0.99, double headroomBelowObjective = 0.75)
{
    /// <summary>The replicas wanted in each of <paramref name="pools"/> (same order) for <paramref name="demand"/>.</summary>
    public IReadOnlyList<PoolWant> Want(DemandSignal demand, IReadOnlyList<PoolState> pools)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(targetUtilisation, 0);
        var utilisation = UtilisationFor(demand);
        var wants = new PoolWant[pools.Count];
        var hourly = new List<(int Index, double BusyForAll, double CostForAll)>();
        for (var i = 0; i < pools.Count; i++)
        {
            var pool = pools[i];
            if (pool.Profile.IsMetered)
            {
                wants[i] = new PoolWant(pool.Pool, pool.Replicas, 0);
                continue;
            }

            var busy = BusyReplicas(pool, demand);
            hourly.Add((i, busy, busy * pool.Profile.PricePerHourUsd));
        }

        // Cheapest per unit of load first; the stable sort keeps the caller's order on ties.
        var unassigned = 1.0;
        foreach (var (index, busyForAll, _) in hourly.OrderBy(h => h.CostForAll))
        {
            var pool = pools[index];
            var share = Math.Min(unassigned, busyForAll <= 0 ? 0 : pool.MaxReplicas * utilisation / busyForAll);
            var replicas = share <= 0 ? 0 : Math.Min(pool.MaxReplicas, (int)Math.Ceiling((share * busyForAll / utilisation) - 1e-9));
            wants[index] = new PoolWant(pool.Pool, replicas, share * busyForAll);
            unassigned -= share;
        }

        return wants;
    }

    /// <summary>The busy share each replica is sized for under <paramref name="demand"/>: the target, lowered while
    /// attainment is below the objective.</summary>
    public double UtilisationFor(DemandSignal demand) =>
        demand.Attainment < attainmentObjective ? targetUtilisation * headroomBelowObjective : targetUtilisation;

    /// <summary>Replicas' worth of busy time (busy seconds per second) the whole <paramref name="demand"/> needs on
    /// <paramref name="pool"/>, its backlog spread over the pool's cold start.</summary>
    public static double BusyReplicas(PoolState pool, DemandSignal demand)
    {
        var horizon = Math.Max(1, pool.ColdStart.TotalSeconds);
        var prompt = demand.PromptTokensPerSecond + (demand.QueuedPromptTokens / horizon);
        var output = demand.OutputTokensPerSecond + (demand.QueuedOutputTokens / horizon);
        return (prompt / pool.Profile.PrefillTokensPerSecond) + (output * DecodeSecondsPerToken(pool.Profile, demand.MeanTokensPerRequest));
    }

    // A decode step serves the whole batch: per token it costs the step over the batch the KV cache holds.
    private static double DecodeSecondsPerToken(AcceleratorProfile profile, double meanTokensPerRequest)
    {
        var batch = (int)Math.Clamp(profile.KvCapacityTokens / Math.Max(1, meanTokensPerRequest), 1, profile.MaxSequences);
        return profile.StepMs(batch, 0) / batch / 1000;
    }
}
