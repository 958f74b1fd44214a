namespace Scheduler.Grains.Tenants;

/// <summary>
/// Which of a tenant's accepted jobs its counts account for, exactly: every job accepted before millisecond
/// <see cref="FromMs"/>, and of those accepted from it on, the ones in <see cref="Ids"/>. A silo killed between two
/// writes of the tenant's state loses the jobs it accepted since the last one; the next activation counts, from the job
/// index, each job accepted from <see cref="FromMs"/> on that is not in <see cref="Ids"/> — once, and none the written
/// state holds. Ids, not a time compared with the write's: jobs accepted in the write's millisecond, before the write or
/// after it, are told apart whatever the clock's resolution. A write moves <see cref="FromMs"/> to its own millisecond,
/// so the state keeps only the ids of the jobs accepted in it.
/// </summary>
[GenerateSerializer, Alias("scheduler.CountedSubmissions")]
public sealed class CountedSubmissions
{
    /// <summary>Every job the tenant accepted before this millisecond (Unix, by the accepting silo's clock) is accounted
    /// for; null until the first write, and in a state stored before this was kept.</summary>
    [Id(0)] public long? FromMs { get; set; }

    /// <summary>The jobs accepted from <see cref="FromMs"/> on that are accounted for (counted, or accepted and then
    /// withdrawn), with the millisecond each was accepted in.</summary>
    [Id(1)] public Dictionary<string, long> Ids { get; set; } = new(StringComparer.Ordinal);

    /// <summary>A job accepted at <paramref name="at"/> is accounted for.</summary>
    public void Add(string jobId, DateTimeOffset at)
    {
        var ms = at.ToUnixTimeMilliseconds();
        if (FromMs is not { } from || ms >= from)
        {
            Ids[jobId] = ms;
        }
    }

    /// <summary>Whether the job accepted at <paramref name="at"/> is accounted for.</summary>
    public bool Holds(string jobId, DateTimeOffset at) => at.ToUnixTimeMilliseconds() < FromMs || Ids.ContainsKey(jobId);

    /// <summary>Every job accepted before <paramref name="writtenAt"/> is accounted for (the caller's counts hold them all):
    /// only the ids of those accepted in its millisecond, or later by a clock ahead of this one, are kept. Never moves
    /// back: ids pruned since are no longer known.</summary>
    public void MoveTo(DateTimeOffset writtenAt)
    {
        var ms = writtenAt.ToUnixTimeMilliseconds();
        if (FromMs >= ms)
        {
            return;
        }

        FromMs = ms;
        foreach (var (jobId, acceptedMs) in Ids)
        {
            if (acceptedMs < ms)
            {
                Ids.Remove(jobId);
            }
        }
    }
}
