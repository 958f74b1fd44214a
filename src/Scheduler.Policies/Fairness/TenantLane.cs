namespace Scheduler.Policies.Fairness;

/// <summary>
/// One tenant's queued jobs and its virtual counter. Within each priority class the tenant's jobs go earliest
/// deadline first, then in arrival order; jobs without a deadline come after those with one, in arrival order.
/// A job put back for re-dispatch goes before all of them: it already started streaming.
/// </summary>
/// <param name="ordinal">The lane's number in its queue, unique there: what orders lanes of equal counters in its
/// <see cref="CounterIndex"/>.</param>
internal sealed class TenantLane(int ordinal)
{
    // Indexed by JobPriority (1..3); slot 0 is unused.
    private readonly ClassQueue[] _byPriority = [new(), new(), new(), new()];
    private readonly Dictionary<string, LinkedListNode<Entry>> _nodes = new(StringComparer.Ordinal);

    public double Weight { get; set; } = 1.0;

    public double Counter { get; set; }

    public int Ordinal { get; } = ordinal;

    public int Count => _nodes.Count;

    public void Add(JobDemand job, bool front)
    {
        var queue = _byPriority[(int)job.Priority];
        queue.Needs.Add(job.KvTokens);
        _nodes[job.JobId] = front ? queue.Timed.AddFirst(new Entry(job, long.MinValue))
            : job.Deadline is { } deadline ? InsertByDeadline(queue.Timed, new Entry(job, deadline.UtcTicks))
            : queue.Untimed.AddLast(new Entry(job, long.MaxValue));
    }

    /// <summary>Removes a queued job; returns it, or null if the lane does not hold it.</summary>
    public JobDemand? Remove(string jobId)
    {
        if (!_nodes.Remove(jobId, out var node))
        {
            return null;
        }

        var job = node.Value.Job;
        _byPriority[(int)job.Priority].Needs.Remove(job.KvTokens);
        node.List!.Remove(node);
        return job;
    }

    /// <summary>The first job of the class, in the lane's order, that can be placed. Jobs behind an unplaceable one
    /// may go first (a small job fits where a large one does not), which keeps replicas busy: work conservation. A job
    /// needing more than <paramref name="maxKvTokens"/> KV tokens fits nowhere and is passed over unasked.</summary>
    public JobDemand? FirstPlaceable(JobPriority priority, Func<JobDemand, bool> canPlace, long maxKvTokens)
    {
        var queue = _byPriority[(int)priority];
        return queue.Needs.Smallest > maxKvTokens ? null
            : FirstPlaceable(queue.Timed, canPlace, maxKvTokens) ?? FirstPlaceable(queue.Untimed, canPlace, maxKvTokens);
    }

    /// <summary>The job of one class this lane serves first, when <paramref name="canPlace"/> accepts it; null otherwise
    /// or when the lane has none of the class.</summary>
    public JobDemand? FirstIf(JobPriority priority, Func<JobDemand, bool> canPlace) =>
        First(priority) is { } first && canPlace(first) ? first : null;

    /// <summary>The job of one class this lane serves first, or null when it has none.</summary>
    public JobDemand? First(JobPriority priority) => FirstPlaceable(priority, static _ => true, long.MaxValue);

    /// <summary>Queued jobs of one class.</summary>
    public int CountIn(JobPriority priority) => _byPriority[(int)priority].Count;

    public JobPriority PriorityOf(string jobId) => _nodes[jobId].Value.Job.Priority;

    /// <summary>Jobs of this lane's class ahead of a queued job, in the lane's order.</summary>
    public int IndexInClass(string jobId)
    {
        var target = _nodes[jobId];
        var queue = _byPriority[(int)target.Value.Job.Priority];
        return (target.List == queue.Untimed ? queue.Timed.Count : 0) + ListPositions.IndexOf(target);
    }

    private static JobDemand? FirstPlaceable(LinkedList<Entry> list, Func<JobDemand, bool> canPlace, long maxKvTokens)
    {
        foreach (var entry in list)
        {
            if (entry.Job.KvTokens <= maxKvTokens && canPlace(entry.Job))
            {
                return entry.Job;
            }
        }

        return null;
    }

    private static LinkedListNode<Entry> InsertByDeadline(LinkedList<Entry> list, Entry entry)
    {
        // From the back: deadlines mostly grow with arrival time, so the place is usually at or near the tail.
        // Equal deadlines keep arrival order.
        var after = list.Last;
        while (after is not null && after.Value.Key > entry.Key)
        {
            after = after.Previous;
        }

        return after is null ? list.AddFirst(entry) : list.AddAfter(after, entry);
    }

    /// <summary>A queued job and its sort key: <see cref="long.MinValue"/> for a re-dispatch, else its deadline's ticks.</summary>
    private readonly record struct Entry(JobDemand Job, long Key);

    /// <summary>One priority class of the lane: jobs with a deadline (sorted by it) before jobs without (FIFO).</summary>
    private sealed class ClassQueue
    {
        public LinkedList<Entry> Timed { get; } = new();

        public LinkedList<Entry> Untimed { get; } = new();

        public KvNeeds Needs { get; } = new();

        public int Count => Timed.Count + Untimed.Count;
    }
}
