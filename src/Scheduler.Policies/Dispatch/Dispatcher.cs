using Scheduler.Policies.Batching;
using Scheduler.Policies.Fairness;
using Scheduler.Policies.Placement;

namespace Scheduler.Policies.Dispatch;

/// <summary>
/// Continuous batching and dispatch for one model, as plain code: the placement grain and the simulator run this
/// same class. An admission round takes queued jobs in fair order and admits each into the replica the placement
/// policy picks among those with a free slot and KV room, until no queued job fits anywhere — never past either —
/// or the policy holds the job it is offered.
/// </summary>
public sealed class Dispatcher
{
    private readonly List<ReplicaView> _candidates = [];
    private readonly Func<JobDemand, bool> _fitsSomewhere;

    public Dispatcher(IFairQueue queue, IPlacementPolicy placement, IBatchingPolicy batching)
    {
        Queue = queue;
        Placement = placement;
        Batching = batching;
        _fitsSomewhere = FitsSomewhere;
    }

    public IFairQueue Queue { get; }

    public IPlacementPolicy Placement { get; }

    public IBatchingPolicy Batching { get; }

    /// <summary>The model's replicas by id; the owner adds, replaces and updates them.</summary>
    public Dictionary<string, ReplicaView> Replicas { get; } = new(StringComparer.Ordinal);

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

        Batching.BeginRound(Replicas.Values);
        List<Admission>? admitted = null;
        while (Queue.DequeueNext(_fitsSomewhere) is { } job)
        {
            _candidates.Clear();
            foreach (var replica in Replicas.Values)
            {
                if (CanTake(replica, job))
                {
                    _candidates.Add(replica);
                }
            }

            var chosen = Placement.Choose(job, _candidates);
            if (chosen is null)
            {
                // The policy holds the job (null leaves it queued): it goes back to the front of its tenant's queue
                // with its charge refunded, and the round ends, so the next capacity to free goes to it in fair order.
                Queue.EnqueueFront(job);
                Queue.Adjust(job.TenantId, -job.ServiceUnits);
                break;
            }

            var runningBefore = chosen.Admit(job);
            (admitted ??= []).Add(new Admission(job, chosen, runningBefore));
        }

        return admitted ?? (IReadOnlyList<Admission>)[];
    }

    private bool FitsSomewhere(JobDemand job)
    {
        foreach (var replica in Replicas.Values)
        {
            if (CanTake(replica, job))
            {
                return true;
            }
        }

        return false;
    }

    private static bool CanTake(ReplicaView replica, JobDemand job) =>
        replica.Schedulable && replica.AcceptingAdmissions && replica.Fits(job);
}

/// <summary>A job admitted into a replica's running batch, with the number of sequences it joined.</summary>
public readonly record struct Admission(JobDemand Job, ReplicaView Replica, int RunningSequencesBefore);
