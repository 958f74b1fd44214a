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

    /// <summary>A job was accepted into the tenant's queue.</summary>
    public void Accept(string jobId) => Queued.Add(jobId);

    /// <summary>A job was not accepted after all (refused or failed before it was): it never was.</summary>
    public void Withdraw(string jobId) => Queued.Remove(jobId);

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
