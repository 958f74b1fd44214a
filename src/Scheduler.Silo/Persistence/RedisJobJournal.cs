using Orleans.Serialization;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Jobs;
using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// The job journal of a Redis-clustered scheduler: one hash per model, one field per unfinished job holding its
/// ticket in Orleans' binary format (watchers are grain-observer references, which only that format carries), and the
/// same ticket under a key of its own, where the job's record finds it by id; a settled job's record under a third key.
/// Accepting a job is one script (HSET and SET, unless the job settled), settling it another (SET NX of the record,
/// HDEL and DEL), whatever the backlog, unlike rewriting a whole grain state.
/// </summary>
internal sealed class RedisJobJournal(IConnectionMultiplexer redis, Serializer<JobTicket> tickets, Serializer<SettledJob> records, string serviceId) : IJobJournal
{
    public bool OutlivesSilo => true;

    private IDatabase Db => redis.GetDatabase();

    // Both of a job's entries in one script: one command and one round trip, and never one entry without the other (a
    // MULTI/EXEC transaction did the same in four commands, and cost a job measurably more CPU and bytes). A job that
    // settled is not brought back by a late write (a hand-back's, or a watcher's).
    private const string AddScript = """
        if redis.call('EXISTS', KEYS[3]) == 0 then
            redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
            redis.call('SET', KEYS[2], ARGV[2])
        end
        """;

    private const string RemoveScript = """
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('DEL', KEYS[2])
        """;

    // The first record holds: a later end gets it back instead. Either way the job is no longer unfinished.
    private const string SettleScript = """
        local settled = redis.call('SET', KEYS[3], ARGV[2], 'NX')
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('DEL', KEYS[2])
        if settled then
            return false
        end
        return redis.call('GET', KEYS[3])
        """;

    public Task Add(JobTicket ticket) =>
        Db.ScriptEvaluateAsync(AddScript, [Key(ticket.Request.Model), JobKey(ticket.JobId), RecordKey(ticket.JobId)], [ticket.JobId, tickets.SerializeToArray(ticket)]);

    public Task Remove(string model, string jobId) =>
        Db.ScriptEvaluateAsync(RemoveScript, [Key(model), JobKey(jobId)], [jobId]);

    public async ValueTask<JobTicket?> Find(string jobId) =>
        await Db.StringGetAsync(JobKey(jobId)) is { HasValue: true } value ? tickets.Deserialize((byte[])value!) : null;

    public async Task<IReadOnlyList<JobTicket>> Load(string model)
    {
        var entries = await Db.HashGetAllAsync(Key(model));
        return [.. entries.Select(e => tickets.Deserialize((byte[])e.Value!)!)];
    }

    public async Task<SettledJob> Settle(SettledJob job)
    {
        var jobId = job.Ticket.JobId;
        var holding = await Db.ScriptEvaluateAsync(
            SettleScript, [Key(job.Ticket.Request.Model), JobKey(jobId), RecordKey(jobId)], [jobId, records.SerializeToArray(job)]);
        return holding.IsNull ? job : records.Deserialize((byte[])holding!)!;
    }

    public async ValueTask<SettledJob?> FindSettled(string jobId) =>
        await Db.StringGetAsync(RecordKey(jobId)) is { HasValue: true } value ? records.Deserialize((byte[])value!) : null;

    // A hash tag keeps the journal on one shard of a Redis cluster, so a job's entries change in one script.
    private RedisKey Key(string model) => $"{{{serviceId}}}/journal/{model}";

    private RedisKey JobKey(string jobId) => $"{{{serviceId}}}/journal-job/{jobId}";

    private RedisKey RecordKey(string jobId) => $"{{{serviceId}}}/job-record/{jobId}";
}
