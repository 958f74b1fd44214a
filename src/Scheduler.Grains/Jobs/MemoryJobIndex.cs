using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Jobs;

/// <summary>The job index of a single-process scheduler, in memory, written by the <see cref="MemoryJobJournal"/>: one
/// ordered set overall and one per tenant, trimmed to the retention and to
/// <see cref="PlacementOptions.MaxSettledJobsInMemory"/> entries (the oldest first) as jobs are added.</summary>
public sealed class MemoryJobIndex(IOptions<PlacementOptions> options, TimeProvider time) : IJobIndex
{
    private static readonly Comparer<JobIndexCursor> NewestFirst = Comparer<JobIndexCursor>.Create((a, b) =>
        a.SubmittedMs != b.SubmittedMs ? b.SubmittedMs.CompareTo(a.SubmittedMs) : string.CompareOrdinal(b.JobId, a.JobId));

    private readonly Lock _gate = new();
    private readonly SortedSet<JobIndexCursor> _all = new(NewestFirst);
    private readonly Dictionary<string, SortedSet<JobIndexCursor>> _byTenant = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JobIndexEntry> _entries = new(StringComparer.Ordinal);

    /// <summary>Adds an accepted job (or overwrites it), and drops what is past the retention or the count bound.</summary>
    internal void Add(JobIndexEntry entry)
    {
        lock (_gate)
        {
            Put(entry);
            Trim(time.GetUtcNow() - options.Value.JobRetention, options.Value.MaxSettledJobsInMemory);
        }
    }

    /// <summary>Records a job's terminal status, if the job is still listed.</summary>
    internal void Settle(JobIndexEntry entry)
    {
        lock (_gate)
        {
            // Like the Redis index's entry, which expires with the retention: a job trimmed away is not listed again.
            if (_entries.ContainsKey(entry.JobId))
            {
                _entries[entry.JobId] = entry;
            }
        }
    }

    public Task<IReadOnlyList<JobIndexEntry>> ReadNewestFirst(string? tenantId, JobIndexCursor? after, DateTimeOffset? since, DateTimeOffset? until, int count)
    {
        var sinceMs = since?.ToUnixTimeMilliseconds() ?? long.MinValue;
        var untilMs = until?.ToUnixTimeMilliseconds() ?? long.MaxValue;
        var page = new List<JobIndexEntry>(count);
        lock (_gate)
        {
            // A view between the cursor (or the newest entry) and the oldest: no walk over what is newer.
            var set = tenantId is null ? _all : _byTenant.GetValueOrDefault(tenantId);
            var from = after is { } cursor ? cursor : new JobIndexCursor(untilMs, "\uffff");
            if (set is null || set.Count == 0 || NewestFirst.Compare(from, set.Max) > 0)
            {
                return Task.FromResult<IReadOnlyList<JobIndexEntry>>(page);
            }

            foreach (var c in set.GetViewBetween(from, set.Max))
            {
                if (page.Count == count || c.SubmittedMs < sinceMs)
                {
                    break;
                }

                if ((after is null || after.Value.IsBefore(c)) && c.SubmittedMs <= untilMs)
                {
                    page.Add(_entries[c.JobId]);
                }
            }
        }

        return Task.FromResult<IReadOnlyList<JobIndexEntry>>(page);
    }

    private void Put(JobIndexEntry entry)
    {
        var cursor = entry.Cursor;
        _entries[entry.JobId] = entry;
        _all.Add(cursor);
        if (!_byTenant.TryGetValue(entry.TenantId, out var tenant))
        {
            tenant = new SortedSet<JobIndexCursor>(NewestFirst);
            _byTenant[entry.TenantId] = tenant;
        }

        tenant.Add(cursor);
    }

    private void Trim(DateTimeOffset oldest, int max)
    {
        var oldestMs = oldest.ToUnixTimeMilliseconds();
        while (_all.Count > 0 && _all.Max is var last && (last.SubmittedMs < oldestMs || _all.Count > max))
        {
            _all.Remove(last);
            if (_entries.Remove(last.JobId, out var entry) && _byTenant.TryGetValue(entry.TenantId, out var tenant))
            {
                tenant.Remove(last);
            }
        }
    }
}
