namespace Scheduler.Policies.Placement;

/// <summary>Chooses the replica a job is admitted to. Implementations are small, named and stateless
/// apart from what their strategy needs (a round-robin cursor, a random source).</summary>
public interface IPlacementPolicy
{
    /// <summary>The name configuration selects the policy by.</summary>
    string Name { get; }

    /// <summary>Whether the policy places a session's turns by their session: the simulator gives a request's session to
    /// the placement only then, since the dispatcher's session affinity applies before any policy and would make a
    /// load-only baseline sticky. The placement grain passes every job's session whatever the policy.</summary>
    bool PlacesBySession => false;

    /// <summary>Picks one of <paramref name="candidates"/> (all schedulable, all with room for the job),
    /// or null to leave the job queued.</summary>
    ReplicaView? Choose(JobDemand job, IReadOnlyList<ReplicaView> candidates);
}
