using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Placement;

/// <summary>
/// The short ring of events a placement keeps per job to explain it. Waiting lines with the same reason as the line
/// before merge (counts add up, the last time moves on), so a job passed over in a thousand rounds for one reason
/// takes one line; past <see cref="Capacity"/> lines the oldest after the first (when it was queued) go.
/// </summary>
internal sealed class JobTrace
{
    public const int Capacity = 16;

    private readonly List<JobTraceEvent> _events;

    public JobTrace(IEnumerable<JobTraceEvent>? earlier = null) => _events = [.. earlier ?? []];

    public IReadOnlyList<JobTraceEvent> Events => _events;

    public JobTraceEvent[] ToArray() => [.. _events];

    /// <summary>Appends an event; a waiting line with its predecessor's reason merges into it.</summary>
    public void Add(JobTraceEvent e)
    {
        if (e.Kind == JobTraceKind.Waiting && _events.Count > 0 && _events[^1] is { Kind: JobTraceKind.Waiting } last && last.Reason == e.Reason)
        {
            _events[^1] = last with { LastAt = e.LastAt ?? e.At, Count = last.Count + e.Count, Detail = e.Detail };
            return;
        }

        _events.Add(e);
        if (_events.Count > Capacity)
        {
            _events.RemoveAt(1);
        }
    }
}
