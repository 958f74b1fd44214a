using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// Where jobs are kept from acceptance on: the durable list of accepted, unfinished jobs of each model, also found by
/// job id, and the records of the jobs that settled. A job is written here before its submission is acknowledged; a
/// placement activated after a failover rebuilds its queue from it; the job's end replaces its entry by its settled
/// record in one step (<see cref="Settle"/>), so a job is always exactly one of the two. One entry per job, so
/// accepting or finishing a job costs one small write, whatever the backlog.
/// </summary>
public interface IJobJournal
{
    /// <summary>Whether what is written here outlives this silo. False for a journal in the silo's memory, whose
    /// persistence mode keeps grain state in memory too: then no grain write outlives the silo, so the tenant writes
    /// its state for its next activation when the current one goes (not while the silo shuts down), not per change.</summary>
    bool OutlivesSilo { get; }

    /// <summary>Records (or overwrites) an unfinished job's ticket under its model; nothing once the job settled (a
    /// late write must not bring a finished job back to run again).</summary>
    Task Add(JobTicket ticket);

    /// <summary>Removes an unfinished job's entry; a settled record stays.</summary>
    Task Remove(string model, string jobId);

    /// <summary>The ticket of an unfinished job, by its id alone; null if the journal holds no such job unfinished.</summary>
    ValueTask<JobTicket?> Find(string jobId);

    /// <summary>Every unfinished job recorded under <paramref name="model"/>, in no particular order.</summary>
    Task<IReadOnlyList<JobTicket>> Load(string model);

    /// <summary>Records a job's end and removes its unfinished entry, in one step. The first end recorded holds: a
    /// later one (a cancellation racing the last token) changes nothing. Returns the record that holds —
    /// <paramref name="job"/> itself when it is the first.</summary>
    Task<SettledJob> Settle(SettledJob job);

    /// <summary>A settled job's record; null if the job has not settled (or does not exist).</summary>
    ValueTask<SettledJob?> FindSettled(string jobId);
}
