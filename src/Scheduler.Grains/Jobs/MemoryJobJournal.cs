using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// The journal of a single-process scheduler (localhost clustering, in-memory state): it outlives grain
/// activations but not the process, exactly like the in-memory grain storage beside it. Settled records are kept for
/// <see cref="PlacementOptions.JobRetention"/> from their end (<see cref="SettledJob.IsExpired"/>, the rule every reader
/// of a record applies) and at most <see cref="PlacementOptions.MaxSettledJobsInMemory"/> of
/// them, the oldest dropped first as jobs settle (amortised O(1) a job): nothing else bounds this process's memory.
/// Unfinished jobs are never dropped. It writes <paramref name="index"/> as it accepts and settles jobs.
/// </summary>
public sealed class MemoryJobJournal(MemoryJobIndex index, IOptions<PlacementOptions> options, TimeProvider time) : IJobJournal
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, JobTicket>> _models = new(StringComparer.Ordinal);

    // The same tickets by job id (IJobJournal.Find).
    private readonly ConcurrentDictionary<string, JobTicket> _jobs = new(StringComparer.Ordinal);

    // Each settled record by job id.
    private readonly ConcurrentDictionary<string, SettledJob> _settled = new(StringComparer.Ordinal);

    // The settled records in the order they were written, oldest first: what trimming drops first. Under the gate. Their
    // ends were stamped just before (JobSettlement), so this is their ends' order but for the moments two settles
    // overlapped: a record trimmed a moment late is still read as gone.
    private readonly Queue<SettledJob> _settledOrder = new();

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

    public IAsyncEnumerable<IReadOnlyList<JobTicket>> LoadPages(string model) =>
        Jobs(model).Values.Chunk(IJobJournal.PageSize).ToAsyncEnumerable();

    public Task<SettledJob> Settle(SettledJob job)
    {
        var ticket = job.Ticket;
        lock (_gate)
        {
            // A record past the retention but not yet trimmed holds too: one queue entry per record.
            if (_settled.TryGetValue(ticket.JobId, out var held))
            {
                RemoveUnfinished(ticket);
                return Task.FromResult(held);
            }

            _settled[ticket.JobId] = job;
            _settledOrder.Enqueue(job);
            RemoveUnfinished(ticket);
            index.Settle(JobIndexEntry.Of(ticket, job.Outcome.Status));
            Trim(time.GetUtcNow());
            return Task.FromResult(job);
        }
    }

    public ValueTask<SettledJob?> FindSettled(string jobId) =>
        ValueTask.FromResult(_settled.TryGetValue(jobId, out var held) && !held.IsExpired(time.GetUtcNow(), options.Value.JobRetention) ? held : null);

    private void RemoveUnfinished(JobTicket ticket)
    {
        Jobs(ticket.Request.Model).TryRemove(ticket.JobId, out _);
        _jobs.TryRemove(ticket.JobId, out _);
    }

    /// <summary>Drops the records past the retention and, past the count bound, the oldest: each record once, so a
    /// job's end costs the same however many are kept. Under the gate.</summary>
    private void Trim(DateTimeOffset now)
    {
        var (max, retention) = (options.Value.MaxSettledJobsInMemory, options.Value.JobRetention);
        while (_settledOrder.TryPeek(out var oldest) && (_settledOrder.Count > max || oldest.IsExpired(now, retention)))
        {
            _settledOrder.Dequeue();
            _settled.TryRemove(oldest.Ticket.JobId, out _);
        }
    }

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
