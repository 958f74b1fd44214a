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

    /// <summary>Busy share each replica is sized for, in (0, 1].</summary>
    public double TargetUtilisation { get; set; } = 0.7;

    /// <summary>Share of first tokens that should meet their objective; below it, replicas are sized with more headroom.</summary>
    public double AttainmentObjective { get; set; } = 0.99;
}
