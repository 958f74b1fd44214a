using System.Collections.Concurrent;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// The journal of a single-process scheduler (localhost clustering, in-memory state): it outlives grain
/// activations but not the process, exactly like the in-memory grain storage beside it. Settled records are kept for
/// the process's life, as that storage keeps grain state. It writes <paramref name="index"/> as it accepts and settles
/// jobs.
/// </summary>
public sealed class MemoryJobJournal(MemoryJobIndex index) : IJobJournal
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, JobTicket>> _models = new(StringComparer.Ordinal);

    // The same tickets by job id (IJobJournal.Find).
    private readonly ConcurrentDictionary<string, JobTicket> _jobs = new(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<string, SettledJob> _settled = new(StringComparer.Ordinal);

    // Adding a ticket and settling its job each change two maps: one at a time, so a late add cannot slip in between a
    // settle's record and its removal (the Redis journal does each in one script).
    private readonly Lock _gate = new();

    public bool OutlivesSilo => false;

    public Task Accept(JobTicket ticket)
    {
        lock (_gate)
        {
            if (Put(ticket))
            {
                index.Add(JobIndexEntry.Of(ticket, JobStatus.Queued));
            }
        }

        return Task.CompletedTask;
    }

    public Task Add(JobTicket ticket)
    {
        lock (_gate)
        {
            Put(ticket);
        }

        return Task.CompletedTask;
    }

    public Task Remove(string model, string jobId)
    {
        lock (_gate)
        {
            Jobs(model).TryRemove(jobId, out _);
            _jobs.TryRemove(jobId, out _);
        }

        return Task.CompletedTask;
    }

    public ValueTask<JobTicket?> Find(string jobId) => ValueTask.FromResult(_jobs.GetValueOrDefault(jobId));

    public Task<IReadOnlyList<JobTicket>> Load(string model) =>
        Task.FromResult<IReadOnlyList<JobTicket>>([.. Jobs(model).Values]);

    public Task<SettledJob> Settle(SettledJob job)
    {
        var ticket = job.Ticket;
        lock (_gate)
        {
            var holding = _settled.GetOrAdd(ticket.JobId, job);
            Jobs(ticket.Request.Model).TryRemove(ticket.JobId, out _);
            _jobs.TryRemove(ticket.JobId, out _);
            if (ReferenceEquals(holding, job))
            {
                index.Settle(JobIndexEntry.Of(ticket, job.Outcome.Status));
            }

            return Task.FromResult(holding);
        }
    }

    public ValueTask<SettledJob?> FindSettled(string jobId) => ValueTask.FromResult(_settled.GetValueOrDefault(jobId));

    /// <summary>Writes an unfinished job's ticket, unless the job settled. Under the gate.</summary>
    private bool Put(JobTicket ticket)
    {
        if (_settled.ContainsKey(ticket.JobId))
        {
            return false;
        }

        Jobs(ticket.Request.Model)[ticket.JobId] = ticket;
        _jobs[ticket.JobId] = ticket;
        return true;
    }

    private ConcurrentDictionary<string, JobTicket> Jobs(string model) =>
        _models.GetOrAdd(model, _ => new ConcurrentDictionary<string, JobTicket>(StringComparer.Ordinal));
}
