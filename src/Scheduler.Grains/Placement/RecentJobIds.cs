namespace Scheduler.Grains.Placement;

/// <summary>The last <c>capacity</c> job ids added, oldest forgotten first: bounded memory whatever the job rate.</summary>
internal sealed class RecentJobIds(int capacity)
{
    private readonly HashSet<string> _ids = new(capacity, StringComparer.Ordinal);
    private readonly Queue<string> _order = new(capacity);

    public void Add(string jobId)
    {
        if (!_ids.Add(jobId))
        {
            return;
        }

        if (_order.Count == capacity)
        {
            _ids.Remove(_order.Dequeue());
        }

        _order.Enqueue(jobId);
    }

    public bool Contains(string jobId) => _ids.Contains(jobId);
}
