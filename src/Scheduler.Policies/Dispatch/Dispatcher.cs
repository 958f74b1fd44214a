using Scheduler.Policies.Batching;
using Scheduler.Policies.Fairness;
using Scheduler.Policies.Placement;

namespace Scheduler.Policies.Dispatch;

/// <summary>
/// Continuous batching and dispatch for one model, as plain code: the placement grain and the simulator run this
/// same class. An admission round takes queued jobs in fair order and admits each into the replica the placement
/// policy picks among those with a free slot and KV room, until no queued job fits anywhere — never past either —
/// or the policy holds the job it is offered. Each admission carries the job's <see cref="FairRank"/> on its replica.
/// </summary>
public sealed class Dispatcher
{
    private readonly List<ReplicaView> _candidates = [];
    private readonly Func<JobDemand, bool> _fitsSomewhere;
    private readonly IIndexedPlacementPolicy? _indexedPlacement;

    public Dispatcher(IFairQueue queue, IPlacementPolicy placement, IBatchingPolicy batching)
    {
        Queue = queue;
        Placement = placement;
        Batching = batching;
        _fitsSomewhere = Replicas.FitsSomewhere;
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
        List<Admission>? admitted = null;
        while (Queue.DequeueNext(_fitsSomewhere) is { } job)
        {
            var chosen = Choose(job);
            if (chosen is null)
            {
                // The policy holds the job (null leaves it queued): it goes back to the front of its tenant's queue
                // with its charge refunded, and the round ends, so the next capacity to free goes to it in fair order.
                Queue.EnqueueFront(job);
                Queue.Adjust(job.TenantId, -job.ServiceUnits);
                break;
            }

            var rank = FairRank.Of(job, chosen, Queue);
            var runningBefore = chosen.Admit(job, rank);
            (admitted ??= []).Add(new Admission(job, chosen, runningBefore, rank));
        }

        return admitted ?? (IReadOnlyList<Admission>)[];
    }

    // The queue offers only a job that fits somewhere, so there is a candidate; null means the policy holds the job.
    // A policy with an index path looks at a few replicas; the others get the full candidate list.
    private ReplicaView? Choose(JobDemand job)
    {
        if (_indexedPlacement is not null)
        {
            return _indexedPlacement.Choose(job, Replicas);
        }

        Replicas.CollectCandidates(job, _candidates);
        return Placement.Choose(job, _candidates);
    }
}

/// <summary>A job admitted into a replica's running batch, with the number of sequences it joined and its fair rank
/// there (<see cref="FairRank"/>), which the engine prefills in.</summary>
public readonly record struct Admission(JobDemand Job, ReplicaView Replica, int RunningSequencesBefore, double FairRank);
