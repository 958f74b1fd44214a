namespace Scheduler.Policies.Placement;

/// <summary>
/// Which replicas' prefix indexes hold a prompt's first block: a policy that predicts per class of replica finds, through
/// this, the few replicas where the job's prefix may be cached, without scanning the fleet. Kept current by the views
/// (a prompt stored, a first block evicted); a view replaced in its set is dropped when next met.
/// </summary>
internal sealed class PrefixHolders
{
    private readonly Dictionary<ulong, List<ReplicaView>> _byRoot = [];

    /// <summary>Prompts held somewhere, for tests.</summary>
    public int Roots => _byRoot.Count;

    public void Add(ulong root, ReplicaView replica)
    {
        if (!_byRoot.TryGetValue(root, out var holders))
        {
            _byRoot.Add(root, holders = []);
        }

        holders.Add(replica);
    }

    public void Remove(ulong root, ReplicaView replica)
    {
        if (_byRoot.TryGetValue(root, out var holders) && holders.Remove(replica) && holders.Count == 0)
        {
            _byRoot.Remove(root);
        }
    }

    /// <summary>The replicas listed for <paramref name="root"/>, latest listed last; empty when none.</summary>
    public List<ReplicaView>? Of(ulong root) => _byRoot.GetValueOrDefault(root);
}
