using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// The Redis keys of a service's jobs: the journal's, the settled records' and the index's. All carry the service id as
/// their hash tag, which keeps them on one shard of a Redis cluster, so one script may change a job's journal entries,
/// its record and its index entry together.
/// </summary>
internal sealed class RedisJobKeys(string serviceId)
{
    /// <summary>The hash of a model's unfinished jobs: job id → ticket.</summary>
    public RedisKey Journal(string model) => $"{{{serviceId}}}/journal/{model}";

    /// <summary>An unfinished job's ticket, by its id.</summary>
    public RedisKey JournalJob(string jobId) => $"{{{serviceId}}}/journal-job/{jobId}";

    /// <summary>A settled job's record.</summary>
    public RedisKey Record(string jobId) => $"{{{serviceId}}}/job-record/{jobId}";

    /// <summary>The index's sorted set of job ids by submission millisecond: every job's, or one tenant's.</summary>
    public RedisKey IndexSet(string? tenantId) => tenantId is null ? $"{{{serviceId}}}/jobs/all" : $"{{{serviceId}}}/jobs/tenant/{tenantId}";

    /// <summary>A job's index entry (<see cref="RedisJobIndex.Format"/>), which expires with the retention.</summary>
    public RedisKey IndexEntry(string jobId) => $"{{{serviceId}}}/jobs/entry/{jobId}";
}
