namespace Scheduler.Policies.Fairness;

/// <summary>One tenant's queued jobs, one FIFO per priority class, and its virtual counter.</summary>
internal sealed class TenantLane
{
    private readonly Dictionary<JobPriority, LinkedList<JobDemand>> _byPriority = [];
    private readonly Dictionary<string, LinkedListNode<JobDemand>> _nodes = new(StringComparer.Ordinal);

    public double Weight { get; set; } = 1.0;

    public double Counter { get; set; }

    public int Count => _nodes.Count;

    public void Add(JobDemand job, bool front)
    {
        if (!_byPriority.TryGetValue(job.Priority, out var list))
        {
            list = new LinkedList<JobDemand>();
            _byPriority[job.Priority] = list;
        }

        _nodes[job.JobId] = front ? list.AddFirst(job) : list.AddLast(job);
    }

    public void Remove(string jobId)
    {
        if (_nodes.Remove(jobId, out var node))
        {
            node.List!.Remove(node);
        }
    }

    /// <summary>The first job of the class that can be placed. Jobs behind an unplaceable one may go first
    /// (a small job fits where a large one does not), which keeps replicas busy: work conservation.</summary>
    public JobDemand? FirstPlaceable(JobPriority priority, Func<JobDemand, bool> canPlace)
    {
        if (!_byPriority.TryGetValue(priority, out var list))
        {
            return null;
        }

        foreach (var job in list)
        {
            if (canPlace(job))
            {
                return job;
            }
        }

        return null;
    }

    public JobPriority PriorityOf(string jobId) => _nodes[jobId].Value.Priority;

    public int IndexOf(string jobId)
    {
        var target = _nodes[jobId];
        var index = 0;
        foreach (var (priority, list) in _byPriority)
        {
            if (priority < target.Value.Priority)
            {
                index += list.Count;
            }
        }

        for (var node = target.Previous; node is not null; node = node.Previous)
        {
            index++;
        }

        return index;
    }

    /// <summary>Jobs of this lane served before a job of <paramref name="priority"/> in another lane.</summary>
    public int CountAhead(JobPriority priority, bool lowerCounter) =>
        _byPriority.Where(p => p.Key < priority || (p.Key == priority && lowerCounter)).Sum(p => p.Value.Count);
}
