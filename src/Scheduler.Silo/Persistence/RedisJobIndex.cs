using System.Globalization;
using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Jobs;
using Scheduler.Policies;
using StackExchange.Redis;

namespace Scheduler.Silo.Persistence;

/// <summary>
/// The job index of a Redis-clustered scheduler. Two sorted sets by submission millisecond — every job, and each
/// tenant's — hold job ids; each job's entry is a small string key of its own that expires with the retention. The
/// <see cref="RedisJobJournal"/> writes them in its scripts: accepting a job adds it (ZADD ×2, SET and ZREMRANGEBYSCORE
/// ×2, the trim of entries past the retention, amortised O(1) per job), settling it rewrites its entry. A page is one
/// ZREVRANGEBYSCORE with LIMIT (O(log n + page)) and one MGET, whatever the number of jobs kept.
/// </summary>
internal sealed class RedisJobIndex(IConnectionMultiplexer redis, RedisJobKeys keys) : IJobIndex
{
    private const char Separator = '\t';

    private IDatabase Db => redis.GetDatabase();

    public async Task<IReadOnlyList<JobIndexEntry>> ReadNewestFirst(string? tenantId, JobIndexCursor? after, DateTimeOffset? since, DateTimeOffset? until, int count)
    {
        var max = after?.SubmittedMs ?? until?.ToUnixTimeMilliseconds() ?? long.MaxValue;
        if (until is { } u)
        {
            max = Math.Min(max, u.ToUnixTimeMilliseconds());
        }

        var min = since?.ToUnixTimeMilliseconds() ?? long.MinValue;
        var ids = new List<string>(count);
        var offset = 0;
        while (ids.Count < count)
        {
            // Ties at the cursor's millisecond come back too (ordered by id, descending): those up to the cursor are skipped.
            // Only those: an entry of an earlier millisecond comes after the cursor whatever its id, so each entry's
            // score is read with it (comparing every id with the cursor's dropped about half of every page after the first).
            var take = count - ids.Count;
            var found = (RedisResult[])(await Db.ExecuteAsync("ZREVRANGEBYSCORE", keys.IndexSet(tenantId), Bound(max), Bound(min),
                "WITHSCORES", "LIMIT", offset.ToString(CultureInfo.InvariantCulture), take.ToString(CultureInfo.InvariantCulture)))!;
            offset += found.Length / 2;
            for (var i = 0; i + 1 < found.Length; i += 2)
            {
                var id = (string)found[i]!;
                if (after is { } cursor && !cursor.IsBefore(new JobIndexCursor((long)(double)found[i + 1], id)))
                {
                    continue;
                }

                ids.Add(id);
            }

            if (found.Length / 2 < take)
            {
                break;
            }
        }

        if (ids.Count == 0)
        {
            return [];
        }

        var values = await Db.StringGetAsync([.. ids.Select(keys.IndexEntry)]);
        var entries = new List<JobIndexEntry>(ids.Count);
        for (var i = 0; i < ids.Count; i++)
        {
            // An entry past the retention expired before the sorted sets were trimmed: it is gone.
            if (values[i].HasValue && Parse(ids[i], values[i]!) is { } entry)
            {
                entries.Add(entry);
            }
        }

        return entries;
    }

    private static string Bound(long ms) => ms == long.MaxValue ? "+inf" : ms == long.MinValue ? "-inf" : ms.ToString(CultureInfo.InvariantCulture);

    /// <summary>An index entry as its key holds it. Ids and model names carry no whitespace (the front door refuses
    /// it), so a tab separates the fields.</summary>
    internal static string Format(JobIndexEntry e) => string.Join(Separator,
        ((int)e.Status).ToString(CultureInfo.InvariantCulture), ((int)e.Priority).ToString(CultureInfo.InvariantCulture),
        e.SubmittedAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture), e.TenantId, e.Model);

    private static JobIndexEntry? Parse(string jobId, string value)
    {
        var f = value.Split(Separator);
        return f.Length == 5
            ? new JobIndexEntry(jobId, f[3], f[4], (JobPriority)int.Parse(f[1], CultureInfo.InvariantCulture),
                DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(f[2], CultureInfo.InvariantCulture)), (JobStatus)int.Parse(f[0], CultureInfo.InvariantCulture))
            : null;
    }
}
