namespace Scheduler.Policies.Placement;

/// <summary>Chooses the replica a job is admitted to. Implementations are small, named and stateless
/// apart from what their strategy needs (a round-robin cursor, a random source).</summary>
public interface IPlacementPolicy
{
    /// <summary>The name configuration selects the policy by.</summary>
    string Name { get; }

    /// <summary>Picks one of <paramref name="candidates"/> (all schedulable, all with room for the job),
    /// or null to leave the job queued.</summary>
    ReplicaView? Choose(JobDemand job, IReadOnlyList<ReplicaView> candidates);
}
