namespace Scheduler.Policies.Placement;

/// <summary>
/// A placement policy that can choose from a <see cref="ReplicaSet"/>'s index instead of a list of every candidate.
/// It must choose exactly what <see cref="IPlacementPolicy.Choose"/> would from the open replicas with room for the
/// job, listed in registration order; the dispatcher uses this path when the policy offers it.
/// </summary>
internal interface IIndexedPlacementPolicy : IPlacementPolicy
{
    /// <param name="job">The job to place.</param>
    /// <param name="replicas">The model's replicas, indexed.</param>
    /// <param name="weighed">When not null, receives each replica the policy predicted for.</param>
    ReplicaView? Choose(JobDemand job, ReplicaSet replicas, List<WeighedReplica>? weighed = null);
}
