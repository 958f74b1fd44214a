using Scheduler.Policies.Placement;

namespace Scheduler.Policies.Batching;

/// <summary>Decides which replicas take new sequences in an admission round.</summary>
public interface IBatchingPolicy
{
    /// <summary>The name configuration selects the policy by.</summary>
    string Name { get; }

    /// <summary>Called at the start of an admission round: sets each replica's <see cref="ReplicaView.AcceptingAdmissions"/>.</summary>
    void BeginRound(IEnumerable<ReplicaView> replicas);
}
