namespace Scheduler.Policies.Fairness;

/// <summary>
/// What a fair queue holds, kept as jobs enter and leave it: its jobs by tenant and class, and their prompt and output
/// tokens. The fleet's gauges read these every 10 s (and `ListModels` and `schedctl top` at will) inside the placement's
/// one turn at a time; computed from the jobs instead, each reading walked every queued job — 50,000 of them after a
/// restart under a deep queue, a turn of seconds on a loaded silo (docs/scaling.md).
/// </summary>
public sealed class QueueTally
{
    private static readonly JobPriority[] s_priorities = Enum.GetValues<JobPriority>();
    private readonly Dictionary<(string TenantId, JobPriority Priority), int> _jobs = [];

    /// <summary>The prompt tokens of the queued jobs (a resumed job's counted with the tokens it resumes after).</summary>
    public long PromptTokens { get; private set; }

    /// <summary>The output tokens the queued jobs may still produce.</summary>
    public long OutputTokens { get; private set; }

    /// <summary>Queued jobs per tenant and class; none listed at zero.</summary>
    public IEnumerable<(string TenantId, JobPriority Priority, int Jobs)> ByTenantAndClass =>
        _jobs.Select(e => (e.Key.TenantId, e.Key.Priority, e.Value));

    /// <summary>Queued jobs of one tenant, of every class.</summary>
    public int JobsOf(string tenantId)
    {
        var jobs = 0;
        foreach (var priority in s_priorities)
        {
            jobs += _jobs.GetValueOrDefault((tenantId, priority));
        }

        return jobs;
    }

    internal void Add(JobDemand job)
    {
        var key = (job.TenantId, job.Priority);
        _jobs[key] = _jobs.GetValueOrDefault(key) + 1;
        PromptTokens += job.PromptTokens;
        OutputTokens += job.MaxTokens;
    }

    internal void Remove(JobDemand job)
    {
        var key = (job.TenantId, job.Priority);
        if (_jobs[key] == 1)
        {
            _jobs.Remove(key);
        }
        else
        {
            _jobs[key]--;
        }

        PromptTokens -= job.PromptTokens;
        OutputTokens -= job.MaxTokens;
    }
}
