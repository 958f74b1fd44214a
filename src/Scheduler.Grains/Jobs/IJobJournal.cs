using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// The durable list of accepted, unfinished jobs of each model, also found by job id. A job is written here before its
/// submission is acknowledged and removed once its record is terminal; a placement activated after a failover rebuilds
/// its queue from it, and a job's record takes its ticket from it. One entry per job, so accepting or finishing a job
/// costs one small write, whatever the backlog.
/// </summary>
public interface IJobJournal
{
    /// <summary>Whether what is written here outlives this silo. False for a journal in the silo's memory, whose
    /// persistence mode keeps grain state in memory too: then no grain write outlives the silo, so the tenant and the job
    /// record write their state for the next activation when theirs goes (not while the silo shuts down), not per change.</summary>
    bool OutlivesSilo { get; }

    /// <summary>Records (or overwrites) a job's ticket under its model.</summary>
    Task Add(JobTicket ticket);

    Task Remove(string model, string jobId);

    /// <summary>The ticket of an unfinished job, by its id alone; null if the journal holds no such job. Until a job's
    /// record first activates this entry is its record: the tenant acknowledges a job once it is journaled and queued,
    /// without activating the record.</summary>
    ValueTask<JobTicket?> Find(string jobId);

    /// <summary>Every job recorded under <paramref name="model"/>, in no particular order.</summary>
    Task<IReadOnlyList<JobTicket>> Load(string model);
}
