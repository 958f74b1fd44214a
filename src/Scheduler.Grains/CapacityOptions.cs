namespace Scheduler.Grains;

/// <summary>How each model's placement sizes its accelerator pools (the wanted-replicas gauge and
/// <c>AdminService.GetCapacity</c>); bound from <c>Scheduler:Scheduling:Capacity</c>. The scheduler only says what it
/// wants: an autoscaler (KEDA, an HPA on an external metric, a cluster autoscaler) acts on it.</summary>
public sealed class CapacityOptions
{
    /// <summary>The window arrival rates and TTFT attainment are measured over.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Time from asking for a replica to its first admission (node, model load, warm-up): the queue is
    /// spread over it, since capacity asked for now serves only then.</summary>
    public TimeSpan ColdStart { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The most replicas a pool may be asked for (at least the replicas it has).</summary>
    public int MaxReplicasPerPool { get; set; } = 8;

    /// <summary>How far back a burst still sizes the pools' prefill: capacity asked for when a burst starts
    /// comes a cold start too late, so the capacity for the recent bursts is held this long.</summary>
    public TimeSpan PeakLookback { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Busy share each replica is sized for under the window's mean load, in (0, 1].</summary>
    public double TargetUtilisation { get; set; } = 0.9;

    /// <summary>Busy share each replica is sized for under the prompt rate the recent bursts needed, in (0, 1].</summary>
    public double BurstUtilisation { get; set; } = 1.0;

    /// <summary>Replicas the cheapest pool keeps however quiet the model is, so the first job after a quiet spell
    /// does not wait for a cold start.</summary>
    public int WarmFloor { get; set; } = 1;

    /// <summary>Share of first tokens that should meet their objective; below it, replicas are sized with more headroom.</summary>
    public double AttainmentObjective { get; set; } = 0.99;
}
