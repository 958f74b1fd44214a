using Scheduler.Policies.Profiles;

namespace Scheduler.Policies.Capacity;

/// <summary>
/// How many replicas each accelerator pool should have for the demand: the capacity signal an autoscaler follows,
/// computed by the placement grain (its gauge and <c>AdminService</c>) and by the simulator's autoscaled pools alike.
/// <list type="number">
/// <item>Two loads: the recent mean (arrival rate of prompt and output tokens over the window) and the burst (the
/// prompt rate that would have served the recent bursts within their TTFT objectives, with the mean output rate: a
/// burst's decode is spread over its generations, its prefill is not). Both add the queued tokens spread over the
/// pool's cold start (capacity asked for now arrives only then, so the backlog must be drained by what comes).</item>
/// <item>Each pool's busy time for a load from the shared step model: decode at the batch its KV cache holds for the
/// mean request, prefill carried in those steps' spare token budget and the rest in steps of the whole budget, each
/// paying the step's launch. A pool is sized so that the mean load keeps it at the target utilisation and the burst
/// at the burst utilisation: a TTFT objective of about a second cannot wait for a cold start of minutes, so the
/// capacity for the recent bursts must already be there when the next one comes.</item>
/// <item>Pools are filled cheapest per unit of load first, each up to its maximum; below the attainment objective
/// both utilisations drop (more headroom) until attainment recovers. The pool cheapest per prompt token keeps a warm
/// floor, so the first job after a quiet spell does not wait for a cold start.</item>
/// </list>
/// Metered pools cost nothing idle and are not provisioned: they keep their replicas and are left out of the sizing,
/// which is conservative (what they absorb is not subtracted). Scale-down hysteresis is the demand window's peak
/// lookback (a burst holds its capacity that long) and the actuator's stabilisation window (an autoscaler's, the
/// simulator's idle time): this class only says what it wants now.
/// </summary>
/// <param name="targetUtilisation">Busy share each replica is sized for under the mean load, in (0, 1].</param>
/// <param name="attainmentObjective">Share of jobs that should meet their TTFT objective.</param>
/// <param name="headroomBelowObjective">Factor on both utilisations while attainment is below the objective.</param>
/// <param name="burstUtilisation">Busy share each replica is sized for under the burst load, in (0, 1].</param>
/// <param name="warmFloor">Replicas the cheapest hourly pool keeps however quiet it is.</param>
public sealed class CapacityPolicy(
    double targetUtilisation = 0.9,
    double attainmentObjective = 0.99,
    double headroomBelowObjective = 0.75,
    double burstUtilisation = 1.0,
    int warmFloor = 1)
{
    /// <summary>The replicas wanted in each of <paramref name="pools"/> (same order) for <paramref name="demand"/>.</summary>
    public IReadOnlyList<PoolWant> Want(DemandSignal demand, IReadOnlyList<PoolState> pools)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(targetUtilisation, 0);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(burstUtilisation, 0);
        ArgumentOutOfRangeException.ThrowIfNegative(warmFloor);
        var headroom = Headroom(demand);
        var wants = new PoolWant[pools.Count];
        var hourly = new List<(int Index, double Mean, double Needed)>();
        for (var i = 0; i < pools.Count; i++)
        {
            var pool = pools[i];
            if (pool.Profile.IsMetered)
            {
                wants[i] = new PoolWant(pool.Pool, pool.Replicas, 0);
                continue;
            }

            // Replicas this pool would need to take the whole demand: the larger of the mean's and the burst's.
            var mean = BusyReplicas(pool, demand);
            var burst = BusyReplicas(pool, demand with { PromptTokensPerSecond = demand.PeakPromptTokensPerSecond });
            hourly.Add((i, mean, Math.Max(mean / (targetUtilisation * headroom), burst / (burstUtilisation * headroom))));
        }

        // Cheapest per unit of load first; the stable sort keeps the caller's order on ties. (Choosing instead by the
        // price of the whole replicas per share of the load, so that a small remainder goes to a small accelerator,
        // was tried, alone and with a switching cost (a new mix must save more over the peak lookback than its added
        // replicas cost while they start): the choice then flips between pools as the load moves, each flip waits for a
        // cold start while the old pool is still paid for, and conv at 6x came out dearer and below its objective;
        // docs/benchmarks.md.)
        var unassigned = 1.0;
        foreach (var (index, mean, needed) in hourly.OrderBy(h => h.Needed * pools[h.Index].Profile.PricePerHourUsd))
        {
            var pool = pools[index];
            var share = needed <= 0 ? 0 : Math.Min(unassigned, pool.MaxReplicas / needed);
            var replicas = share <= 0 ? 0 : Math.Min(pool.MaxReplicas, (int)Math.Ceiling((share * needed) - 1e-9));
            wants[index] = new PoolWant(pool.Pool, replicas, share * mean);
            unassigned -= share;
        }

        // The warm floor goes to the pool cheapest per prompt token, where the first job after a quiet spell is served.
        if (warmFloor > 0 && hourly.Count > 0)
        {
            var floor = hourly.MinBy(h => pools[h.Index].Profile.PricePerHourUsd * PrefillSecondsPerToken(pools[h.Index].Profile)).Index;
            wants[floor] = wants[floor] with { Replicas = Math.Max(wants[floor].Replicas, Math.Min(warmFloor, pools[floor].MaxReplicas)) };
        }

        return wants;
    }

    /// <summary>The busy share each replica is sized for under <paramref name="demand"/>'s mean load: the target,
    /// lowered while attainment is below the objective.</summary>
    public double UtilisationFor(DemandSignal demand) => targetUtilisation * Headroom(demand);

    /// <summary>Replicas' worth of busy time (busy seconds per second) the whole <paramref name="demand"/> needs on
    /// <paramref name="pool"/>, its backlog spread over the pool's cold start.</summary>
    public static double BusyReplicas(PoolState pool, DemandSignal demand)
    {
        var horizon = Math.Max(1, pool.ColdStart.TotalSeconds);
        var prompt = demand.PromptTokensPerSecond + (demand.QueuedPromptTokens / horizon);
        var output = demand.OutputTokensPerSecond + (demand.QueuedOutputTokens / horizon);
        var profile = pool.Profile;

        // A decode step serves the whole batch the KV cache holds for the mean request, and carries prefill chunks
        // in the rest of its token budget without a launch of its own; prompt tokens beyond what the decode steps
        // carry run in prefill-only steps of the whole budget, each paying the launch (an L4 prefilling alone does
        // 1,024 tokens in 55 + 177 ms, 4,422 tok/s rather than 5,800). Counting a launch for every chunk would size a
        // decode-heavy load for prefill steps it never runs.
        var budget = Math.Max(1, profile.StepTokenBudget);
        var batch = (int)Math.Clamp(profile.KvCapacityTokens / Math.Max(1, demand.MeanTokensPerRequest), 1, Math.Min(profile.MaxSequences, budget));
        var decodeSteps = output / batch;
        var carried = decodeSteps * (budget - batch);
        var prefillSteps = Math.Max(0, prompt - carried) / budget;
        return ((decodeSteps * profile.StepMs(batch, 0)) + (prefillSteps * profile.DecodeStepBaseMs) + (prompt * 1000 / profile.PrefillTokensPerSecond)) / 1000;
    }

    // What a prompt token costs a replica prefilling alone: a step's token budget at a time, each step paying its launch.
    private static double PrefillSecondsPerToken(AcceleratorProfile profile) =>
        profile.StepMs(0, Math.Max(1, profile.StepTokenBudget)) / Math.Max(1, profile.StepTokenBudget) / 1000;

    private double Headroom(DemandSignal demand) => demand.Attainment < attainmentObjective ? headroomBelowObjective : 1;
}
