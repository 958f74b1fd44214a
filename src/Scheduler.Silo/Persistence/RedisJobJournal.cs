using System.Globalization;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains;
using Scheduler.Grains.Jobs;
using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// The job journal of a Redis-clustered scheduler: one hash per model, one field per unfinished job holding its
/// ticket in Orleans' binary format (watchers are grain-observer references, which only that format carries), and the
/// same ticket under a key of its own, where the job's record finds it by id; a settled job's record under a third key.
/// It writes the <see cref="RedisJobIndex"/> in the same scripts, all keys under one hash tag: accepting a job is one
/// script (its two entries and its index entry, unless the job settled), settling it another (SET NX PX of the record,
/// HDEL, DEL and the index entry's status), whatever the backlog, unlike rewriting a whole grain state. A record is
/// written with its expiry (<see cref="PlacementOptions.JobRetention"/> from the job's end, <see cref="SettledJob.KeptFor"/>)
/// in that same command, so none is ever kept for good; an unfinished job's entries have none.
/// </summary>
internal sealed class RedisJobJournal(
    IConnectionMultiplexer redis,
    Serializer<JobTicket> tickets,
    Serializer<SettledJob> records,
    RedisJobKeys keys,
    IOptions<PlacementOptions> options,
    TimeProvider time) : IJobJournal
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

    // Add's, and the job's index entry, which expires with the retention, in the index's two sorted sets (every job's
    // and its tenant's), which are trimmed of what is past the retention as jobs come (amortised O(1) a job). One
    // script instead of Add's and a batch of five index commands: the Redis client was 12 % of a job's CPU.
    private const string AcceptScript = """
        if redis.call('EXISTS', KEYS[3]) == 0 then
            redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
            redis.call('SET', KEYS[2], ARGV[2])
            redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[4])
            redis.call('ZADD', KEYS[5], ARGV[5], ARGV[1])
            redis.call('ZADD', KEYS[6], ARGV[5], ARGV[1])
            redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. ARGV[6])
            redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. ARGV[6])
        end
        """;

    private const string RemoveScript = """
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('DEL', KEYS[2])
        """;

    // The first record holds: a later end gets it back instead. Either way the job is no longer unfinished. The record
    // expires when its retention from the job's end is over (in ARGV[4] ms); the index entry takes the first end's status, unless it expired already.
    private const string SettleScript = """
        local settled = redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[4])
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('DEL', KEYS[2])
        if settled then
            redis.call('SET', KEYS[4], ARGV[3], 'XX', 'KEEPTTL')
            return false
        end
        return redis.call('GET', KEYS[3])
        """;

    public Task Accept(JobTicket ticket)
    {
        var retention = options.Value.JobRetention;
        var cutoff = (time.GetUtcNow() - retention).ToUnixTimeMilliseconds();
        var jobId = ticket.JobId;
        return Db.ScriptEvaluateAsync(AcceptScript,
            [keys.Journal(ticket.Request.Model), keys.JournalJob(jobId), keys.Record(jobId), keys.IndexEntry(jobId), keys.IndexSet(null), keys.IndexSet(ticket.TenantId)],
            [jobId, tickets.SerializeToArray(ticket), RedisJobIndex.Format(JobIndexEntry.Of(ticket, JobStatus.Queued)),
                (long)retention.TotalMilliseconds, ticket.SubmittedAt.ToUnixTimeMilliseconds(), cutoff.ToString(CultureInfo.InvariantCulture)]);
    }

    public Task Add(JobTicket ticket) =>
        Db.ScriptEvaluateAsync(AddScript, [keys.Journal(ticket.Request.Model), keys.JournalJob(ticket.JobId), keys.Record(ticket.JobId)], [ticket.JobId, tickets.SerializeToArray(ticket)]);

    public Task Remove(string model, string jobId) =>
        Db.ScriptEvaluateAsync(RemoveScript, [keys.Journal(model), keys.JournalJob(jobId)], [jobId]);

    public async ValueTask<JobTicket?> Find(string jobId) =>
        await Db.StringGetAsync(keys.JournalJob(jobId)) is { HasValue: true } value ? tickets.Deserialize((byte[])value!) : null;

    /// <summary>By HSCAN, a page of the hash a round trip: one HGETALL of 50,000 tickets was a 6 MB reply, deserialised in
    /// the same turn of the placement rebuilding from it. A scan returns an entry twice when the hash is resized meanwhile:
    /// the reader keeps the last.</summary>
    public async IAsyncEnumerable<IReadOnlyList<JobTicket>> LoadPages(string model)
    {
        var page = new List<JobTicket>(IJobJournal.PageSize);
        await foreach (var entry in Db.HashScanAsync(keys.Journal(model), pageSize: IJobJournal.PageSize))
        {
            page.Add(tickets.Deserialize((byte[])entry.Value!)!);
            if (page.Count == IJobJournal.PageSize)
            {
                yield return page;
                page = new List<JobTicket>(IJobJournal.PageSize);
            }
        }

        if (page.Count > 0)
        {
            yield return page;
        }
    }

    public async Task<SettledJob> Settle(SettledJob job)
    {
        var jobId = job.Ticket.JobId;
        var holding = await Db.ScriptEvaluateAsync(SettleScript,
            [keys.Journal(job.Ticket.Request.Model), keys.JournalJob(jobId), keys.Record(jobId), keys.IndexEntry(jobId)],
            [jobId, records.SerializeToArray(job), RedisJobIndex.Format(JobIndexEntry.Of(job.Ticket, job.Outcome.Status)),
                ExpiryMs(job)]);
        return holding.IsNull ? job : records.Deserialize((byte[])holding!)!;
    }

    /// <summary>The record's expiry from now in whole milliseconds, rounded up: the time its retention from the job's
    /// end has left, as <see cref="SettledJob.IsExpired"/> reads it; at least 1 (Redis takes no other), so a record
    /// written after its retention (a write retried for that long) is gone at once, as the rule reads it.</summary>
    private long ExpiryMs(SettledJob job) =>
        Math.Max(1, (long)Math.Ceiling(job.KeptFor(time.GetUtcNow(), options.Value.JobRetention).TotalMilliseconds));

    public async ValueTask<SettledJob?> FindSettled(string jobId) =>
        await Db.StringGetAsync(keys.Record(jobId)) is { HasValue: true } value ? records.Deserialize((byte[])value!) : null;
}
