using Orleans.Serialization;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Jobs;
using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// The job journal of a Redis-clustered scheduler: one hash per model, one field per unfinished job holding its
/// ticket in Orleans' binary format (watchers are grain-observer references, which only that format carries), and the
/// same ticket under a key of its own, where the job's record finds it by id. Accepting or finishing a job is one
/// transaction (HSET and SET, or HDEL and DEL) whatever the backlog, unlike rewriting a whole grain state.
/// </summary>
internal sealed class RedisJobJournal(IConnectionMultiplexer redis, Serializer<JobTicket> serializer, string serviceId) : IJobJournal
{
    public bool OutlivesSilo => true;

    private IDatabase Db => redis.GetDatabase();

    public async Task Add(JobTicket ticket)
    {
        // Both in one transaction: one round trip, and never one without the other.
        var bytes = serializer.SerializeToArray(ticket);
        var transaction = Db.CreateTransaction();
        var byModel = transaction.HashSetAsync(Key(ticket.Request.Model), ticket.JobId, bytes);
        var byJob = transaction.StringSetAsync(JobKey(ticket.JobId), bytes);
        await transaction.ExecuteAsync();
        await Task.WhenAll(byModel, byJob);
    }

    public async Task Remove(string model, string jobId)
    {
        var transaction = Db.CreateTransaction();
        var byModel = transaction.HashDeleteAsync(Key(model), jobId);
        var byJob = transaction.KeyDeleteAsync(JobKey(jobId));
        await transaction.ExecuteAsync();
        await Task.WhenAll(byModel, byJob);
    }

    public async ValueTask<JobTicket?> Find(string jobId) =>
        await Db.StringGetAsync(JobKey(jobId)) is { HasValue: true } value ? serializer.Deserialize((byte[])value!) : null;

    public async Task<IReadOnlyList<JobTicket>> Load(string model)
    {
        var entries = await Db.HashGetAllAsync(Key(model));
        return [.. entries.Select(e => serializer.Deserialize((byte[])e.Value!)!)];
    }

    // A hash tag keeps the journal on one shard of a Redis cluster, so both of a job's entries change in one transaction.
    private RedisKey Key(string model) => $"{{{serviceId}}}/journal/{model}";

    private RedisKey JobKey(string jobId) => $"{{{serviceId}}}/journal-job/{jobId}";
}
