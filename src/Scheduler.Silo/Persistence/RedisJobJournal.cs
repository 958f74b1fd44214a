using Orleans.Serialization;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Jobs;
using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// The job journal of a Redis-clustered scheduler: one hash per model, one field per unfinished job holding its
/// ticket in Orleans' binary format (watchers are grain-observer references, which only that format carries), and the
/// same ticket under a key of its own, where the job's record finds it by id. Accepting or finishing a job is one
/// script (HSET and SET, or HDEL and DEL) whatever the backlog, unlike rewriting a whole grain state.
/// </summary>
internal sealed class RedisJobJournal(IConnectionMultiplexer redis, Serializer<JobTicket> serializer, string serviceId) : IJobJournal
{
    public bool OutlivesSilo => true;

    private IDatabase Db => redis.GetDatabase();

    // Both of a job's entries in one script: one command and one round trip, and never one entry without the other (a
    // MULTI/EXEC transaction did the same in four commands, and cost a job measurably more CPU and bytes).
    private const string AddScript = """
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('SET', KEYS[2], ARGV[2])
        """;

    private const string RemoveScript = """
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('DEL', KEYS[2])
        """;

    public Task Add(JobTicket ticket) =>
        Db.ScriptEvaluateAsync(AddScript, [Key(ticket.Request.Model), JobKey(ticket.JobId)], [ticket.JobId, serializer.SerializeToArray(ticket)]);

    public Task Remove(string model, string jobId) =>
        Db.ScriptEvaluateAsync(RemoveScript, [Key(model), JobKey(jobId)], [jobId]);

    public async ValueTask<JobTicket?> Find(string jobId) =>
        await Db.StringGetAsync(JobKey(jobId)) is { HasValue: true } value ? serializer.Deserialize((byte[])value!) : null;

    public async Task<IReadOnlyList<JobTicket>> Load(string model)
    {
        var entries = await Db.HashGetAllAsync(Key(model));
        return [.. entries.Select(e => serializer.Deserialize((byte[])e.Value!)!)];
    }

    // A hash tag keeps the journal on one shard of a Redis cluster, so both of a job's entries change in one script.
    private RedisKey Key(string model) => $"{{{serviceId}}}/journal/{model}";

    private RedisKey JobKey(string jobId) => $"{{{serviceId}}}/journal-job/{jobId}";
}
