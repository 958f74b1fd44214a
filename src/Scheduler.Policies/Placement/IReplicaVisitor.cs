namespace Scheduler.Policies.Placement;

/// <summary>Receives replicas from a <see cref="ReplicaSet"/> search. A struct implementation is specialised by the
/// JIT, so a search allocates nothing and calls nothing virtually.</summary>
internal interface IReplicaVisitor
{
    /// <summary>Returns false to end the search.</summary>
    bool Visit(ReplicaEntry entry);

    /// <summary>True when no replica of <paramref name="replicaClass"/> running <paramref name="running"/> sequences or
    /// more can be what the search looks for, given what it found: the search goes on with the next class. Asked in
    /// increasing running counts, so it must stay true for every larger count once it is.</summary>
    bool SkipsFrom(ReplicaClass replicaClass, int running);
}
