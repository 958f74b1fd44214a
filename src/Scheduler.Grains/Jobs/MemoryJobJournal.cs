using System.Collections.Concurrent;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// The journal of a single-process scheduler (localhost clustering, in-memory state): it outlives grain
/// activations but not the process, exactly like the in-memory grain storage beside it.
/// </summary>
public sealed class MemoryJobJournal : IJobJournal
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, JobTicket>> _models = new(StringComparer.Ordinal);

    // The same tickets by job id (IJobJournal.Find).
    private readonly ConcurrentDictionary<string, JobTicket> _jobs = new(StringComparer.Ordinal);

    public bool OutlivesSilo => false;

    public Task Add(JobTicket ticket)
    {
        Jobs(ticket.Request.Model)[ticket.JobId] = ticket;
        _jobs[ticket.JobId] = ticket;
        return Task.CompletedTask;
    }

    public Task Remove(string model, string jobId)
    {
        Jobs(model).TryRemove(jobId, out _);
        _jobs.TryRemove(jobId, out _);
        return Task.CompletedTask;
    }

    public ValueTask<JobTicket?> Find(string jobId) => ValueTask.FromResult(_jobs.GetValueOrDefault(jobId));

    public Task<IReadOnlyList<JobTicket>> Load(string model) =>
        Task.FromResult<IReadOnlyList<JobTicket>>([.. Jobs(model).Values]);

    private ConcurrentDictionary<string, JobTicket> Jobs(string model) =>
        _models.GetOrAdd(model, _ => new ConcurrentDictionary<string, JobTicket>(StringComparer.Ordinal));
}
