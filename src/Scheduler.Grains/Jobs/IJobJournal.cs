using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Jobs;

/// <summary>
/// Where jobs are kept from acceptance on: the durable list of accepted, unfinished jobs of each model, also found by
/// job id, and the records of the jobs that settled. A job is written here before its submission is acknowledged; a
/// placement activated after a failover rebuilds its queue from it; the job's end replaces its entry by its settled
/// record in one step (<see cref="Settle"/>), so a job is always exactly one of the two. One entry per job, so
/// accepting or finishing a job costs one small write, whatever the backlog. The journal also keeps the
/// <see cref="IJobIndex"/> that listing reads, in the same steps: a job is indexed as it is accepted
/// (<see cref="Accept"/>) and its entry takes its terminal status as it settles, so the index never disagrees with the
/// record and a job costs storage two writes, not four (issue 12).
/// </summary>
public interface IJobJournal
{
    /// <summary>Whether what is written here outlives this silo. False for a journal in the silo's memory, whose
    /// persistence mode keeps grain state in memory too: then no grain write outlives the silo, so the tenant writes
    /// its state for its next activation when the current one goes (not while the silo shuts down), not per change.</summary>
    bool OutlivesSilo { get; }

    /// <summary>Records a job its tenant just accepted: its ticket, as <see cref="Add"/> does, and its index entry
    /// (<see cref="JobStatus.Queued"/>), in one step. Idempotent, like <see cref="Add"/>.</summary>
    Task Accept(JobTicket ticket);

    /// <summary>Records (or overwrites) an unfinished job's ticket under its model; nothing once the job settled (a
    /// late write must not bring a finished job back to run again).</summary>
    Task Add(JobTicket ticket);

    /// <summary>Removes an unfinished job's entry; a settled record stays.</summary>
    Task Remove(string model, string jobId);

    /// <summary>The ticket of an unfinished job, by its id alone; null if the journal holds no such job unfinished.</summary>
    ValueTask<JobTicket?> Find(string jobId);

    /// <summary>How many tickets a page of <see cref="LoadPages"/> holds at most.</summary>
    const int PageSize = 1_000;

    /// <summary>Every unfinished job recorded under <paramref name="model"/>, in no particular order, in pages of at most
    /// <see cref="PageSize"/>: a placement rebuilt from a large journal reads and deserialises it a page at a time, not in
    /// one turn. A job changed while the pages are read may come twice (its latest ticket last), one accepted or
    /// settled meanwhile may or may not come; every job unfinished throughout comes.</summary>
    IAsyncEnumerable<IReadOnlyList<JobTicket>> LoadPages(string model);

    /// <summary>Records a job's end, removes its unfinished entry and writes its terminal status into its index entry,
    /// in one step. The first end recorded holds: a later one (a cancellation racing the last token) changes nothing. Returns the record that holds —
    /// <paramref name="job"/> itself when it is the first.</summary>
    Task<SettledJob> Settle(SettledJob job);

    /// <summary>A settled job's record; null if the job has not settled (or does not exist), or its record is past
    /// <see cref="PlacementOptions.JobRetention"/> (or, in memory, was dropped for the count bound). Unfinished jobs
    /// are never dropped.</summary>
    ValueTask<SettledJob?> FindSettled(string jobId);
}
