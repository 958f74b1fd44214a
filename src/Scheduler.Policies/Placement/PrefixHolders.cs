namespace Scheduler.Policies.Placement;

/// <summary>
/// Which replicas' prefix indexes hold a prompt's first block: a policy that predicts per class of replica finds, through
/// this, the few replicas where the job's prefix may be cached, without scanning the fleet. Kept current by the views
/// (a prompt stored, a first block evicted); a view replaced in its set is dropped when next met. Prompts come and go on
/// every decision, so the lists of prompts no longer held are kept for the next ones rather than left to the collector.
/// </summary>
internal sealed class PrefixHolders
{
    // Enough spare lists for the prompts a busy fleet starts and drops between two decisions; more are collected.
    private const int MaxSpareLists = 1_024;

    private readonly Dictionary<ulong, List<ReplicaView>> _byRoot = [];
    private readonly Stack<List<ReplicaView>> _spare = new();

    /// <summary>Prompts held somewhere, for tests.</summary>
    public int Roots => _byRoot.Count;

    public void Add(ulong root, ReplicaView replica)
    {
        if (!_byRoot.TryGetValue(root, out var holders))
        {
            _byRoot.Add(root, holders = _spare.TryPop(out var spare) ? spare : []);
        }

        holders.Add(replica);
    }

    public void Remove(ulong root, ReplicaView replica)
    {
        if (_byRoot.TryGetValue(root, out var holders) && holders.Remove(replica) && holders.Count == 0)
        {
            _byRoot.Remove(root);
            if (_spare.Count < MaxSpareLists)
            {
                _spare.Push(holders);
            }
        }
    }

    /// <summary>The replicas listed for <paramref name="root"/>, latest listed last; empty when none.</summary>
    public List<ReplicaView>? Of(ulong root) => _byRoot.GetValueOrDefault(root);
}
