using Scheduler.Abstractions.Fleet;

namespace Scheduler.Grains.Placement;

/// <summary>What a placement persists besides the job journal: the replicas it schedules onto. It changes only when
/// nodes register or accelerators are cordoned, never per job.</summary>
[GenerateSerializer, Alias("scheduler.PlacementState")]
public sealed class PlacementState
{
    [Id(0)] public Dictionary<string, ReplicaRegistration> Replicas { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Replicas switched off by their accelerator's state (cordoned, draining, lost).</summary>
    [Id(1)] public HashSet<string> Unschedulable { get; set; } = new(StringComparer.Ordinal);
}
