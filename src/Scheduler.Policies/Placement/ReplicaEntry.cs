namespace Scheduler.Policies.Placement;

/// <summary>
/// A replica's place in its <see cref="ReplicaSet"/>: the keys it is filed under, copied from the view when it was
/// last filed, so the set can find and unfile it after the view has changed.
/// </summary>
internal sealed class ReplicaEntry(ReplicaSet owner, string replicaId, int order, ReplicaView view, ReplicaClass replicaClass)
{
    public ReplicaSet Owner { get; } = owner;

    public string ReplicaId { get; } = replicaId;

    /// <summary>When the id was first registered: the last tie-break, so no choice depends on hashing.</summary>
    public int Order { get; } = order;

    public ReplicaView View { get; set; } = view;

    public ReplicaClass Class { get; set; } = replicaClass;

    /// <summary>True while in its class's buckets and the free-KV heap: schedulable with a free slot.</summary>
    public bool Filed { get; set; }

    /// <summary>The view's <see cref="ReplicaView.Schedulable"/> as the set last counted it (<see cref="ReplicaSet.SchedulableCount"/>).</summary>
    public bool Schedulable { get; set; }

    public int Running { get; set; }

    public long PendingPrefill { get; set; }

    public long FreeKv { get; set; }

    /// <summary>True when some prompt pending there is ranked above its virtual time (<see cref="ReplicaView.PrefillReordered"/>).</summary>
    public bool Reordered { get; set; }

    /// <summary>Position in the free-KV heap, or -1.</summary>
    public int HeapSlot { get; set; } = -1;

    /// <summary>The admission round in which its (request-level) batch began, or -1.</summary>
    public long BatchOpenedInRound { get; set; } = -1;

    public void Refile() => Owner.Refile(this);
}
