using System.Diagnostics.CodeAnalysis;
using Orleans.Serialization;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Jobs;
using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// The job journal of a Redis-clustered scheduler: one hash per model, one field per unfinished job holding its
/// ticket in Orleans' binary format (watchers are grain-observer references, which only that format carries).
/// Accepting or finishing a job is one HSET or HDEL whatever the backlog, unlike rewriting a whole grain state.
/// </summary>
internal sealed class RedisJobJournal(IConnectionMultiplexer redis, Serializer<JobTicket> serializer, string serviceId) : IJobJournal
{
    public bool OutlivesSilo => true;

    private IDatabase Db => redis.GetDatabase();

    public Task Add(JobTicket ticket) =>
        Db.HashSetAsync(Key(ticket.Request.Model), ticket.JobId, serializer.SerializeToArray(ticket));

    public Task Remove(string model, string jobId) => Db.HashDeleteAsync(Key(model), jobId);

    // Keyed by model only: here each job's record is written before the job is acknowledged.
    public bool TryFind(string jobId, [NotNullWhen(true)] out JobTicket? ticket)
    {
        ticket = null;
        return false;
    }

    public async Task<IReadOnlyList<JobTicket>> Load(string model)
    {
        var entries = await Db.HashGetAllAsync(Key(model));
        return [.. entries.Select(e => serializer.Deserialize((byte[])e.Value!)!)];
    }

    // A hash tag keeps a model's journal on one shard of a Redis cluster.
    private RedisKey Key(string model) => $"{{{serviceId}}}/journal/{model}";
}
