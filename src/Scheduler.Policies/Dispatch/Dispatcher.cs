using Scheduler.Policies.Batching;
using Scheduler.Policies.Fairness;
using Scheduler.Policies.Placement;

namespace Scheduler.Policies.Dispatch;

/// <summary>
/// Continuous batching and dispatch for one model, as plain code: the placement grain and the simulator run this
/// same class. An admission round takes queued jobs in fair order and admits each into the replica the placement
/// policy picks among those with a free slot and KV room, until no queued job fits anywhere — never past either —
/// or the policy holds the job it is offered. While other tenants are active, a tenant is offered only the replicas
/// where it holds less than its weighted share of the slots (<see cref="TenantShares"/>), so one tenant's backlog
/// cannot take every slot of the replicas the placement prefers.
/// </summary>
public sealed class Dispatcher
{
    private readonly List<ReplicaView> _candidates = [];
    private readonly Func<JobDemand, bool> _fitsSomewhere;
    private readonly IIndexedPlacementPolicy? _indexedPlacement;
    private readonly TenantShares _shares;

    public Dispatcher(IFairQueue queue, IPlacementPolicy placement, IBatchingPolicy batching)
    {
        Queue = queue;
        Placement = placement;
        Batching = batching;
        _shares = new TenantShares(queue, Replicas);
        _fitsSomewhere = job => _shares.MayPlace(job) && Replicas.FitsSomewhere(job);
        _indexedPlacement = placement as IIndexedPlacementPolicy;
    }

    public IFairQueue Queue { get; }

    public IPlacementPolicy Placement { get; }

    public IBatchingPolicy Batching { get; }

    /// <summary>The model's replicas by id; the owner adds, replaces and updates them (the set keeps its index current).</summary>
    public ReplicaSet Replicas { get; } = new();

    /// <summary>Creates a dispatcher from policy names, as configuration gives them.</summary>
    public static Dispatcher Create(string placement, string fairness, string batching, Random? random = null) => new(
        SchedulingPolicies.CreateFairQueue(fairness), SchedulingPolicies.CreatePlacement(placement, random), SchedulingPolicies.CreateBatching(batching));

    /// <summary>One admission round. Returns the admissions in the order they were made (empty when nothing fits);
    /// the replicas' reservations are already taken.</summary>
    public IReadOnlyList<Admission> AdmitWhatFits()
    {
        if (Queue.Count == 0 || Replicas.Count == 0)
        {
            return [];
        }

        Replicas.BeginRound(Batching.JoinsRunningBatches);
        _shares.BeginRound();
        List<Admission>? admitted = null;
        while (Queue.DequeueNext(_fitsSomewhere) is { } job)
        {
            if (!Choose(job, out var chosen))
            {
                // No replica with room has a slot within the tenant's share: the job goes back uncharged, and the
                // tenant's other jobs are not offered again in this round (admissions only grow its shares).
                Queue.EnqueueFront(job);
                Queue.Adjust(job.TenantId, -job.ServiceUnits);
                _shares.CapOut(job.TenantId);
                continue;
            }

            if (chosen is null)
            {
                // The policy holds the job (null leaves it queued): it goes back to the front of its tenant's queue
                // with its charge refunded, and the round ends, so the next capacity to free goes to it in fair order.
                Queue.EnqueueFront(job);
                Queue.Adjust(job.TenantId, -job.ServiceUnits);
                break;
            }

            var rank = _shares.Rank(job, chosen);
            var runningBefore = chosen.Admit(job);
            _shares.Admitted(job);
            (admitted ??= []).Add(new Admission(job, chosen, runningBefore, rank));
        }

        return admitted ?? (IReadOnlyList<Admission>)[];
    }

    // The queue offers only a job that fits somewhere, so there is a candidate unless the tenant's share rules them all
    // out (false); a null choice means the policy holds the job. A policy with an index path looks at a few replicas
    // when the tenant is not capped; otherwise the policy gets the full list of candidates within the tenant's share.
    private bool Choose(JobDemand job, out ReplicaView? chosen)
    {
        var uncapped = _shares.Uncapped(job);
        if (_indexedPlacement is not null && uncapped)
        {
            chosen = _indexedPlacement.Choose(job, Replicas);
            return true;
        }

        Replicas.CollectCandidates(job, _candidates);
        if (!uncapped)
        {
            _candidates.RemoveAll(replica => !_shares.WithinShare(job, replica));
            if (_candidates.Count == 0)
            {
                chosen = null;
                return false;
            }
        }

        chosen = Placement.Choose(job, _candidates);
        return true;
    }
}

/// <summary>A job admitted into a replica's running batch, with the number of sequences it joined and its fair rank
/// there (<see cref="TenantShares.Rank"/>), which the engine prefills in.</summary>
public readonly record struct Admission(JobDemand Job, ReplicaView Replica, int RunningSequencesBefore, double FairRank);
