using Scheduler.Policies.Fairness;
using Scheduler.Policies.Placement;

namespace Scheduler.Policies.Dispatch;

/// <summary>
/// Fairness inside a replica, for one admission round: a job's fair rank there (the order its engine prefills in)
/// and the cap on its tenant's share of the replica's slots. Both come from the weights of the fair queue; a queue
/// without shares (FIFO) ranks every job alike and caps nobody.
/// </summary>
/// <remarks>
/// The queue's own virtual counters cannot order work inside a batch: a light tenant that becomes backlogged starts
/// at the flooding tenant's counter, above the counters the flood's already admitted jobs were served at, so ranking
/// by it would put the light job behind every flood prefill waiting in the engine — arrival order again. Counting what
/// each tenant already holds on the replica (a start tag of a per-replica VTC, in slots) puts the light job first.
/// </remarks>
internal sealed class TenantShares(IFairQueue queue, ReplicaSet replicas)
{
    // Weight of the tenants with sequences running on any replica, taken when the round begins.
    private readonly Dictionary<string, double> _activeWeights = new(StringComparer.Ordinal);

    // Tenants that cannot take another slot anywhere in this round (an admission only makes a share larger).
    private readonly HashSet<string> _cappedOut = new(StringComparer.Ordinal);
    private double _activeWeight;

    /// <summary>Takes the tenants active on the model now: those with sequences running on some replica.</summary>
    public void BeginRound()
    {
        _activeWeights.Clear();
        _cappedOut.Clear();
        _activeWeight = 0;
        foreach (var replica in replicas.Values)
        {
            foreach (var tenantId in replica.RunningTenants)
            {
                Activate(tenantId);
            }
        }
    }

    /// <summary>Counts the tenant of a job just admitted as active for the rest of the round.</summary>
    public void Admitted(JobDemand job) => Activate(job.TenantId);

    /// <summary>The job's fair rank on <paramref name="replica"/>: its tenant's sequences there per unit of weight.
    /// Engines prefill lower ranks first, equal ranks in admission order.</summary>
    public double Rank(JobDemand job, ReplicaView replica) =>
        queue.WeightOf(job.TenantId) is { } weight ? replica.RunningOf(job.TenantId) / weight : 0;

    /// <summary>True when the job's tenant may take any free slot: the queue has no shares, or no other tenant is active.</summary>
    public bool Uncapped(JobDemand job) =>
        queue.WeightOf(job.TenantId) is null || _activeWeights.Count == 0 || (_activeWeights.Count == 1 && _activeWeights.ContainsKey(job.TenantId));

    /// <summary>
    /// True when the job's tenant may take another of <paramref name="replica"/>'s slots: it holds fewer than the
    /// slots the other active tenants leave it. Each of them keeps its weighted share of the replica's slots (at least
    /// one), or, when it uses less, twice what it runs there plus one: room for its next arrivals, so a light tenant's
    /// job finds a slot on the replica the placement prefers instead of one left over on a slower one, while slots no
    /// tenant is likely to claim still go to whoever has work.
    /// </summary>
    public bool WithinShare(JobDemand job, ReplicaView replica) => replica.RunningOf(job.TenantId) < Cap(job.TenantId, replica);

    /// <summary>False once the tenant was found to have no replica with a free slot under its share in this round.</summary>
    public bool MayPlace(JobDemand job) => !_cappedOut.Contains(job.TenantId);

    /// <summary>Records that the tenant cannot take another slot anywhere in this round.</summary>
    public void CapOut(string tenantId) => _cappedOut.Add(tenantId);

    private int Cap(string tenantId, ReplicaView replica)
    {
        var total = _activeWeight + (_activeWeights.ContainsKey(tenantId) ? 0 : Weight(tenantId));
        var cap = replica.MaxSequences;
        foreach (var (other, weight) in _activeWeights)
        {
            if (other != tenantId)
            {
                cap -= Math.Min(Share(replica, weight, total), (2 * replica.RunningOf(other)) + 1);
            }
        }

        // Its own share it may always fill, however many tenants keep room.
        return Math.Max(cap, Share(replica, Weight(tenantId), total));
    }

    private static int Share(ReplicaView replica, double weight, double totalWeight) =>
        Math.Max(1, (int)(replica.MaxSequences * weight / totalWeight));

    private void Activate(string tenantId)
    {
        if (!_activeWeights.ContainsKey(tenantId) && queue.WeightOf(tenantId) is { } weight)
        {
            _activeWeights.Add(tenantId, weight);
            _activeWeight += weight;
        }
    }

    private double Weight(string tenantId) => queue.WeightOf(tenantId) ?? 1.0;
}
