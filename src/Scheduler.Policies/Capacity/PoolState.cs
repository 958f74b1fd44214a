using Scheduler.Policies.Profiles;

namespace Scheduler.Policies.Capacity;

/// <summary>One accelerator pool: identical accelerators that can be added or released (a node group, a GPU type).</summary>
/// <param name="Pool">The pool's name (an accelerator product, or an autoscaler's node-group name).</param>
/// <param name="Profile">What one replica of the pool does and costs.</param>
/// <param name="Replicas">Replicas provisioned now, including those still starting.</param>
/// <param name="MaxReplicas">The most the pool may have.</param>
/// <param name="ColdStart">Time from asking for a replica to its first admission (node, model load, warm-up).</param>
public sealed record PoolState(string Pool, AcceleratorProfile Profile, int Replicas, int MaxReplicas, TimeSpan ColdStart);

/// <summary>What the <see cref="CapacityPolicy"/> wants of one pool.</summary>
/// <param name="Pool">The pool's name.</param>
/// <param name="Replicas">Replicas wanted.</param>
/// <param name="BusyReplicas">Replicas' worth of busy time the demand assigned to this pool needs (before headroom).</param>
public readonly record struct PoolWant(string Pool, int Replicas, double BusyReplicas);
