using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// Every accepted job by submission time, newest first, overall and per tenant: what listing jobs reads, so a listing
/// never asks a grain per job it passes over. The <see cref="IJobJournal"/> writes it, in the same steps as its own
/// entries: a job is added when its tenant accepts it and rewritten once when it settles, with its terminal status;
/// until then it reads <see cref="JobStatus.Queued"/> (unfinished: queued or running, which only the job's record
/// tells apart). Entries submitted longer ago than <see cref="PlacementOptions.JobRetention"/> are dropped (the job's
/// record is kept for as long after its end).
/// </summary>
public interface IJobIndex
{
    /// <summary>Up to <paramref name="count"/> entries of <paramref name="tenantId"/> (null: every tenant), newest first,
    /// after <paramref name="after"/> in that order, submitted within [<paramref name="since"/>, <paramref name="until"/>].</summary>
    Task<IReadOnlyList<JobIndexEntry>> ReadNewestFirst(string? tenantId, JobIndexCursor? after, DateTimeOffset? since, DateTimeOffset? until, int count);
}

/// <summary>A job as the index holds it.</summary>
public sealed record JobIndexEntry(string JobId, string TenantId, string Model, JobPriority Priority, DateTimeOffset SubmittedAt, JobStatus Status)
{
    public static JobIndexEntry Of(JobTicket ticket, JobStatus status) =>
        new(ticket.JobId, ticket.TenantId, ticket.Request.Model, ticket.Request.Priority, ticket.SubmittedAt, status);

    /// <summary>Where this entry is in the index's order (submission time in milliseconds, then job id, both descending).</summary>
    public JobIndexCursor Cursor => new(SubmittedAt.ToUnixTimeMilliseconds(), JobId);
}

/// <summary>A place in the index's order: newest first by submission millisecond, ties by job id descending.</summary>
public readonly record struct JobIndexCursor(long SubmittedMs, string JobId)
{
    /// <summary>Whether <paramref name="entry"/> comes after this place in the index's order.</summary>
    public bool IsBefore(JobIndexCursor entry) =>
        entry.SubmittedMs < SubmittedMs || (entry.SubmittedMs == SubmittedMs && string.CompareOrdinal(entry.JobId, JobId) < 0);
}
