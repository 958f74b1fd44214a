namespace Scheduler.Policies.Fairness;

/// <summary>
/// Baseline: one first-come-first-served queue for everyone, as a plain model server (vLLM's default
/// scheduler) or a proxy without tenant awareness serves requests. Tenants, weights and priority classes are
/// ignored, so a flooding tenant delays everyone behind it — the behaviour fair queuing is measured against.
/// Jobs put back for re-dispatch go to the very front. <see cref="DequeueNext"/> serves the first job in
/// arrival order that can be placed, so a job that does not fit lets smaller ones behind it go (work
/// conservation, as in the weighted-fair queue). <see cref="SetWeight"/> and <see cref="Adjust"/> do nothing.
/// </summary>
internal sealed class FifoQueue : IFairQueue
{
    public const string PolicyName = "fifo";

    private readonly LinkedList<JobDemand> _order = new();
    private readonly Dictionary<string, LinkedListNode<JobDemand>> _nodes = new(StringComparer.Ordinal);
    private readonly KvNeeds _needs = new();

    public string Name => PolicyName;

    public int Count => _nodes.Count;

    public QueueTally Tally { get; } = new();

    public void SetWeight(string tenantId, double weight)
    {
        // FIFO has no shares.
    }

    /// <summary>No shares: engines prefill in admission order, which is arrival order here.</summary>
    public double? WeightOf(string tenantId) => null;

    /// <summary>FIFO has no shares to keep: its head is next, and a job just taken from it was.</summary>
    public bool IsNextInLine(JobDemand job) => PositionOf(job.JobId) is 0 or -1;

    public void Enqueue(JobDemand job) => Add(job, front: false);

    public void EnqueueFront(JobDemand job) => Add(job, front: true);

    public bool Remove(string jobId)
    {
        if (!_nodes.Remove(jobId, out var node))
        {
            return false;
        }

        _order.Remove(node);
        _needs.Remove(node.Value.KvTokens);
        Tally.Remove(node.Value);
        return true;
    }

    public JobDemand? DequeueNext(Func<JobDemand, bool> canPlace, long maxKvTokens = long.MaxValue)
    {
        if (_needs.Smallest > maxKvTokens)
        {
            return null;
        }

        foreach (var job in _order)
        {
            if (job.KvTokens <= maxKvTokens && canPlace(job))
            {
                Remove(job.JobId);
                return job;
            }
        }

        return null;
    }

    public JobDemand? DequeueNextHead(Func<JobDemand, bool> canServe)
    {
        // Arrival order has no lanes: each tenant's first job of each class stands for the rest. (FIFO has no shares,
        // so no dispatcher asks this of it: it preempts nothing.)
        var offered = new HashSet<(string, JobPriority)>();
        foreach (var job in _order)
        {
            if (offered.Add((job.TenantId, job.Priority)) && canServe(job))
            {
                Remove(job.JobId);
                return job;
            }
        }

        return null;
    }

    public JobDemand? PeekNext() => _order.First?.Value;

    public void Adjust(string tenantId, double serviceUnits)
    {
        // Nothing is charged, so nothing is corrected.
    }

    public int CountOf(string tenantId) => Tally.JobsOf(tenantId);

    public int PositionOf(string jobId)
    {
        if (!_nodes.TryGetValue(jobId, out var target))
        {
            return -1;
        }

        return ListPositions.IndexOf(target);
    }

    private void Add(JobDemand job, bool front)
    {
        // A job id is queued at most once: enqueuing it again moves it.
        Remove(job.JobId);
        _nodes[job.JobId] = front ? _order.AddFirst(job) : _order.AddLast(job);
        _needs.Add(job.KvTokens);
        Tally.Add(job);
    }
}
