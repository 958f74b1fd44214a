namespace Scheduler.Policies.Placement;

/// <summary>Receives replicas from a <see cref="ReplicaSet"/> search. A struct implementation is specialised by the
/// JIT, so a search allocates nothing and calls nothing virtually.</summary>
internal interface IReplicaVisitor
{
    /// <summary>Returns false to end the search.</summary>
    bool Visit(ReplicaEntry entry);
}
