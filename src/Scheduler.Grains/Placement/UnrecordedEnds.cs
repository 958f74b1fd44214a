namespace Scheduler.Grains.Placement;

/// <summary>
/// The ends of jobs that finished on their replicas but whose records storage refused to write (a Redis outage), by the
/// execution stream whose silo writes them again until they land. Each is kept until that silo says it landed; should
/// the stream die first, its silo's writes may have died with it, and the placement writes them itself (the first end
/// recorded wins, so a write that landed meanwhile keeps its record). Empty whenever storage answers.
/// </summary>
internal sealed class UnrecordedEnds
{
    private readonly Dictionary<string, Dictionary<string, EndedJob>> _byLink = new(StringComparer.Ordinal);

    /// <summary>Keeps <paramref name="ended"/>, whose record stream <paramref name="linkId"/>'s silo is writing.</summary>
    public void Keep(string linkId, EndedJob ended)
    {
        if (!_byLink.TryGetValue(linkId, out var ends))
        {
            ends = new Dictionary<string, EndedJob>(StringComparer.Ordinal);
            _byLink[linkId] = ends;
        }

        ends[ended.Ticket.JobId] = ended;
    }

    /// <summary>The records of <paramref name="jobIds"/> landed: nothing is left to write for them.</summary>
    public void Forget(string linkId, string[] jobIds)
    {
        if (!_byLink.TryGetValue(linkId, out var ends))
        {
            return;
        }

        foreach (var jobId in jobIds)
        {
            ends.Remove(jobId);
        }

        if (ends.Count == 0)
        {
            _byLink.Remove(linkId);
        }
    }

    /// <summary>Takes the ends stream <paramref name="linkId"/>'s silo was still writing (none for a null stream), for
    /// the placement to write: the stream is gone.</summary>
    public ICollection<EndedJob> Take(string? linkId) =>
        linkId is not null && _byLink.Remove(linkId, out var ends) ? ends.Values : [];
}
