using Scheduler.Abstractions.Jobs;
using Microsoft.Extensions.Logging;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// Settles jobs: makes a job's end its durable record, in place of its journal entry (and its index entry's status),
/// then counts it — its tenant, the outcome's observers (metrics). Every way a job ends passes through here, on the silo that
/// learns it: its node link (it ran to its end, failed or was cancelled while running) or its placement (it expired,
/// failed or was cancelled in the queue; a job cancelled in the queue is settled by its record too, to answer the
/// cancel with the written end: the first end written wins). No grain activates
/// for it: a record activation per job, with its two calls, was a third of a job's CPU (issue 12, step 11).
/// </summary>
public sealed partial class JobSettlement(
    IJobJournal journal,
    GrainReferences references,
    IEnumerable<IJobOutcomeObserver> observers,
    TimeProvider time,
    ILogger<JobSettlement> logger)
{
    /// <summary>How often an end that storage refused (a Redis outage) is written again.</summary>
    public static readonly TimeSpan RetryPeriod = TimeSpan.FromSeconds(1);

    private readonly IJobOutcomeObserver[] _observers = [.. observers];

    /// <summary>
    /// Settles <paramref name="job"/>, stamped with the time it settled, and returns the record that holds: the first
    /// end recorded wins, so a job that settled already keeps its record (and is not counted again). Whoever announces the end to the job's watchers
    /// does it after this returns, so a client that saw the end finds the record ended, and durable. An end that storage
    /// refuses (a Redis outage) must not be dropped either — the job would stay in its model's journal and run again
    /// after a failover — so it is written again every <see cref="RetryPeriod"/> until storage takes it, in the
    /// background: this then returns null at once, and the end may be announced (the engine is done with the job);
    /// <paramref name="recordedLate"/> is called once a retry lands.
    /// </summary>
    public async Task<SettledJob?> Settle(SettledJob job, Action<SettledJob>? recordedLate = null)
    {
        // The end's time, once: the record is kept for the retention from then (a late write keeps the end's time).
        job = job with { SettledAt = time.GetUtcNow() };
        SettledJob record;
        try
        {
            record = await SettleOnce(job);
        }
        catch (Exception ex)
        {
            LogNotSettled(logger, ex, job.Ticket.JobId, job.Outcome.Status, RetryPeriod);

            // On the thread pool, not in the calling grain's context: a job record's activation may be collected
            // before storage is back, and the retries must outlive it.
            Task.Run(() => SettleLate(job, recordedLate)).Ignore();
            return null;
        }

        Count(record, job);
        return record;
    }

    /// <summary>Settles <paramref name="job"/>, then tells <paramref name="watchers"/> its <paramref name="end"/>: for a
    /// job that ended where no node ran it (its placement ended it, or it was cancelled in its queue), so no node
    /// tells them. A client that saw the end finds the record ended.</summary>
    public async Task<SettledJob?> SettleThenTell(SettledJob job, IJobEventSink[] watchers, JobEventRecord end)
    {
        var record = await Settle(job);
        foreach (var watcher in watchers)
        {
            watcher.OnEvents([end]).Ignore();
        }

        return record;
    }

    private async Task SettleLate(SettledJob job, Action<SettledJob>? recordedLate)
    {
        SettledJob? record = null;
        while (record is null)
        {
            await Task.Delay(RetryPeriod, time);
            try
            {
                record = await SettleOnce(job);
            }
            catch (Exception)
            {
                // Still refused: try again.
            }
        }

        LogSettledLate(logger, job.Ticket.JobId, record.Outcome.Status);
        Count(record, job);
        recordedLate?.Invoke(record);
    }

    /// <summary>The record, with its index entry (idempotent: a retry gets the record back), then the tenant's count.</summary>
    private async Task<SettledJob> SettleOnce(SettledJob job)
    {
        var record = await journal.Settle(job);
        var ticket = record.Ticket;
        try
        {
            // Idempotent by job id: a tenant counts each end once.
            await SiloFailures.RetryAsync(() => references.Tenant(ticket.TenantId).OnFinished(ticket.JobId, record.Outcome), time);
        }
        catch (Exception ex)
        {
            // The tenant finds it when it next activates: it asks the records of the jobs it still counts.
            LogTenantNotTold(logger, ex, ticket.JobId, ticket.TenantId);
        }

        return record;
    }

    /// <summary>Tells the observers (metrics) of the end that settled the job, not of one that came second. (An end
    /// retried after its write landed but its answer was lost finds itself settled by an equal record: its metrics are
    /// lost, never doubled.)</summary>
    private void Count(SettledJob record, SettledJob job)
    {
        if (ReferenceEquals(record, job))
        {
            foreach (var observer in _observers)
            {
                observer.Settled(record.Ticket, record.Placement, record.Outcome);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} ended {Status} but its record could not be written; written again every {Period}")]
    private static partial void LogNotSettled(ILogger logger, Exception ex, string jobId, JobStatus status, TimeSpan period);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: its outcome {Status} is recorded, late")]
    private static partial void LogSettledLate(ILogger logger, string jobId, JobStatus status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} settled, but its tenant {TenantId} could not be told; it finds the end when it next activates")]
    private static partial void LogTenantNotTold(ILogger logger, Exception ex, string jobId, string tenantId);
}
