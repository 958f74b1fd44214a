namespace Scheduler.Policies.Fairness;

/// <summary>The jobs waiting for one model, and the order in which they are offered capacity.</summary>
public interface IFairQueue
{
    /// <summary>The name configuration selects the policy by.</summary>
    string Name { get; }

    int Count { get; }

    /// <summary>The queued jobs by tenant and class and their tokens, kept as jobs enter and leave.</summary>
    QueueTally Tally { get; }

    /// <summary>Sets a tenant's share; weights apply from the next decision.</summary>
    void SetWeight(string tenantId, double weight);

    /// <summary>Adds a job at the back of its tenant's queue.</summary>
    void Enqueue(JobDemand job);

    /// <summary>Puts a job back at the front of its tenant's queue (re-dispatch after a failure), uncharged.</summary>
    void EnqueueFront(JobDemand job);

    /// <summary>Removes a queued job (cancelled or expired). Returns false if it is not queued.</summary>
    bool Remove(string jobId);

    /// <summary>
    /// Removes and returns the job the policy serves next among those <paramref name="canPlace"/> accepts,
    /// charging its tenant for it; null when no queued job can be placed. A job needing more KV tokens than
    /// <paramref name="maxKvTokens"/> (the most any replica has free) fits nowhere: it is passed over without being
    /// offered, so a round in which none fits costs a step per tenant, not one per queued job.
    /// </summary>
    JobDemand? DequeueNext(Func<JobDemand, bool> canPlace, long maxKvTokens = long.MaxValue);

    /// <summary>
    /// As <see cref="DequeueNext"/>, but offers <paramref name="canServe"/> only each tenant's first job of each class
    /// (in the tenant's own order): for a test whose answer for that job stands for the rest behind it, so that asking it
    /// costs a step per tenant, not per queued job (the dispatcher's "may it make room by preemption").
    /// </summary>
    JobDemand? DequeueNextHead(Func<JobDemand, bool> canServe);

    /// <summary>The job the policy would serve next if every queued job could be placed, left queued and uncharged; null
    /// when none is queued.</summary>
    JobDemand? PeekNext();

    /// <summary>Corrects a tenant's charge once a job's real output is known (a job that stopped early is
    /// refunded the output tokens it did not produce). <paramref name="serviceUnits"/> may be negative.</summary>
    void Adjust(string tenantId, double serviceUnits);

    /// <summary>A tenant's weight (1 until set), or null when the policy has no shares: then jobs are not ranked by
    /// tenant inside a replica's batch either (see <c>FairRank</c>).</summary>
    double? WeightOf(string tenantId);

    /// <summary>Whether serving <paramref name="job"/> (queued, or just taken from the queue) now keeps the policy's
    /// order between tenants: no tenant
    /// waits with a stronger claim in its class or with work in a higher class. Preemption makes room only for such a
    /// job, so serving it out of turn never widens the service gap between tenants.</summary>
    bool IsNextInLine(JobDemand job);

    /// <summary>Queued jobs of one tenant.</summary>
    int CountOf(string tenantId);

    /// <summary>Position (0-based) of a job among all queued jobs in serving order, or -1 if not queued.</summary>
    int PositionOf(string jobId);
}
