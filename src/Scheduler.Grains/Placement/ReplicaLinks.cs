namespace Scheduler.Grains.Placement;

/// <summary>
/// The execution stream each replica is reached through, as its node's latest registration named it. Reports and
/// hand-backs from any earlier stream are stale: whatever ran under it was handed back when the newer one came.
/// </summary>
internal sealed class ReplicaLinks
{
    private readonly Dictionary<string, string> _byReplica = new(StringComparer.Ordinal);

    /// <summary>Reaches the replica through <paramref name="linkId"/> from now on. True when it was reached through
    /// another stream before: what it ran there went down with that stream.</summary>
    public bool Bind(string replicaId, string linkId)
    {
        var moved = _byReplica.TryGetValue(replicaId, out var previous) && previous != linkId;
        _byReplica[replicaId] = linkId;
        return moved;
    }

    /// <summary>The stream the replica is reached through; null when none.</summary>
    public string? LinkOf(string replicaId) => _byReplica.GetValueOrDefault(replicaId);

    /// <summary>The replica is gone: no stream reaches it.</summary>
    public void Forget(string replicaId) => _byReplica.Remove(replicaId);

    /// <summary>True when some stream reaches the replica.</summary>
    public bool IsBound(string replicaId) => _byReplica.ContainsKey(replicaId);

    /// <summary>The replicas reached through <paramref name="linkId"/>: one node's, here.</summary>
    public IEnumerable<string> ReachedThrough(string linkId) =>
        _byReplica.Where(b => b.Value == linkId).Select(b => b.Key);

    /// <summary>True when a report names a stream the replica no longer uses. A report naming none (jobs that never
    /// reached any stream) is never stale.</summary>
    public bool IsStale(string replicaId, string? linkId) =>
        linkId is not null && _byReplica.GetValueOrDefault(replicaId) != linkId;
}
