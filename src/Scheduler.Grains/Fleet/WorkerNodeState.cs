using Scheduler.Abstractions.Fleet;

namespace Scheduler.Grains.Fleet;

/// <summary>
/// What a worker node's grain persists: its last registration and the execution stream opened for it. Written when the
/// node registers and cleared when it is lost, never per heartbeat. Why: the lease otherwise lives only in the grain's
/// activation, and when the silo holding it dies together with the node (a host failure), nothing else knows the node
/// must be declared lost — its accelerators read ready, and the jobs counted on its replicas are never handed back.
/// An activation that finds a registration here it did not make itself takes over that node's lease
/// (<see cref="WorkerNodeGrain"/>).
/// </summary>
[GenerateSerializer, Alias("scheduler.WorkerNodeState")]
public sealed class WorkerNodeState
{
    /// <summary>The node's last registration; null before its first and once it was lost.</summary>
    [Id(0)] public NodeRegistration? Registration { get; set; }

    /// <summary>The execution stream opened for that registration: the placements count the node's jobs under it.</summary>
    [Id(1)] public string? LinkId { get; set; }
}
