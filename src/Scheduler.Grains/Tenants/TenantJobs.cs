namespace Scheduler.Grains.Tenants;

/// <summary>
/// A tenant's unfinished jobs by state; its queued and running counts are the sizes of these sets. The notices that
/// move a job come as one-way calls from different grains — its admission from the placement, its end from its
/// record — so they arrive in any order, and may arrive twice (a placement rebuilt after a failover admits a job
/// again). Each notice only moves a job forward (queued → running → ended) and names the job, so the counts converge
/// on the truth however the notices interleave or repeat: an admission after the end finds nothing to move, and a
/// repeated end is recognised.
/// </summary>
[GenerateSerializer, Alias("scheduler.TenantJobs")]
public sealed class TenantJobs
{
    // Ends remembered to tell a repeat from the end of a job this activation never saw (accepted before a restart).
    internal const int RememberedEnds = 4096;

    [NonSerialized]
    private HashSet<string>? _ended;

    [NonSerialized]
    private Queue<string>? _endedOrder;

    [Id(0)] public HashSet<string> Queued { get; set; } = new(StringComparer.Ordinal);

    [Id(1)] public HashSet<string> Running { get; set; } = new(StringComparer.Ordinal);

    /// <summary>When each unfinished job was accepted, or no later: the age that tells a job whose record expired from one
    /// still being accepted (<see cref="AcceptedBy"/>). A state stored before this was kept has none for its jobs
    /// until <see cref="DateUndated"/> gives them one.</summary>
    [Id(2)] public Dictionary<string, DateTimeOffset> AcceptedAt { get; set; } = new(StringComparer.Ordinal);

    /// <summary>A job was accepted into the tenant's queue at <paramref name="at"/>.</summary>
    public void Accept(string jobId, DateTimeOffset at)
    {
        Queued.Add(jobId);
        AcceptedAt[jobId] = at;
    }

    /// <summary>A job was not accepted after all (refused or failed before it was): it never was.</summary>
    public void Withdraw(string jobId)
    {
        Queued.Remove(jobId);
        AcceptedAt.Remove(jobId);
    }

    /// <summary>Whether unfinished <paramref name="jobId"/> is known to have been accepted by <paramref name="time"/>.</summary>
    public bool AcceptedBy(string jobId, DateTimeOffset time) => AcceptedAt.TryGetValue(jobId, out var at) && at <= time;

    /// <summary>Gives each unfinished job without an acceptance time <paramref name="now"/>, which is no earlier than its
    /// acceptance (so its age is never overstated). Returns whether any had none.</summary>
    public bool DateUndated(DateTimeOffset now)
    {
        var dated = false;
        foreach (var jobId in Queued.Concat(Running))
        {
            dated |= AcceptedAt.TryAdd(jobId, now);
        }

        return dated;
    }

    /// <summary>The placement admitted a job into a running batch: it moves from queued to running, once. An admission
    /// of a job that is not queued — ended already, or admitted again after a failover — changes nothing.</summary>
    public void Admit(string jobId)
    {
        if (Queued.Remove(jobId))
        {
            Running.Add(jobId);
        }
    }

    /// <summary>A job ended. Returns false for a repeated end, which must not be counted again.</summary>
    public bool End(string jobId)
    {
        Queued.Remove(jobId);
        Running.Remove(jobId);
        AcceptedAt.Remove(jobId);
        _ended ??= new(StringComparer.Ordinal);
        _endedOrder ??= new();
        if (!_ended.Add(jobId))
        {
            return false;
        }

        _endedOrder.Enqueue(jobId);
        if (_endedOrder.Count > RememberedEnds)
        {
            _ended.Remove(_endedOrder.Dequeue());
        }

        return true;
    }
}
