namespace Scheduler.Abstractions.Fleet;

/// <summary>One per device: what it is, what it costs, its state, and the replicas it hosts. State changes are
/// pushed to the placements of those replicas, which never ask.</summary>
public interface IAcceleratorGrain : IGrainWithStringKey
{
    /// <summary>Registers the device (it is no longer lost) and returns its state: a cordon survives re-registration.</summary>
    Task<AcceleratorState> Register(AcceleratorRegistration registration, ReplicaRegistration[] replicas);

    Task<AcceleratorInfo?> Get();

    /// <summary>The node's lease lapsed or its stream broke.</summary>
    Task MarkLost();

    /// <summary>Its node <paramref name="nodeId"/> is live — registered, its stream open, its heartbeats within the
    /// lease — and <paramref name="stopping"/> or not: a lost or stopping mark that says otherwise is stale and is
    /// cleared, and the device's state is pushed to its replicas' placements again. Sent by the node's grain every lease.
    /// Why: a mark applied after the node registered again (a silo frozen past its death wakes for a moment and runs what
    /// it was told before the freeze) was cleared by nothing but a registration, which a live node never repeats.
    /// Nothing happens when the device is unknown or another node's.</summary>
    Task Confirm(string nodeId, bool stopping);

    /// <summary>Its node is stopping: its replicas take nothing new, and it reads draining until the node is lost or
    /// registers again. A cordon is kept underneath (an uncordon does not make a stopping node's device schedulable).</summary>
    Task Drain();

    /// <summary>Its node <paramref name="nodeId"/> is forgotten: the device no longer exists for the scheduler (no
    /// listing shows it, and another node may register it). Its cordon is kept, for a node of that id that comes back.
    /// Returns the replicas it hosted, or null (nothing changed) when it is unknown or another node's.</summary>
    Task<ReplicaRegistration[]?> Retire(string nodeId);

    Task<AcceleratorInfo?> Cordon();

    Task<AcceleratorInfo?> Uncordon();
}
