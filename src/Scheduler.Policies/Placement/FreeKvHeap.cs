namespace Scheduler.Policies.Placement;

/// <summary>
/// Filed replicas (schedulable, with a free slot) in a binary max-heap by free KV tokens, so "does this job fit
/// anywhere" is one comparison with the top, however full the fleet. Entries remember their slot, so removing one
/// that changed costs O(log n) and allocates nothing once the heap has grown.
/// </summary>
internal sealed class FreeKvHeap
{
    private readonly List<ReplicaEntry> _heap = [];

    /// <summary>The most free KV tokens of any filed replica; <see cref="long.MinValue"/> when none is filed.</summary>
    public long MaxFreeKv => _heap.Count > 0 ? _heap[0].FreeKv : long.MinValue;

    public bool IsEmpty => _heap.Count == 0;

    public void Add(ReplicaEntry entry)
    {
        _heap.Add(entry);
        entry.HeapSlot = _heap.Count - 1;
        SiftUp(entry.HeapSlot);
    }

    /// <summary>Restores the order after the entry's free KV changed.</summary>
    public void Update(ReplicaEntry entry)
    {
        SiftUp(entry.HeapSlot);
        SiftDown(entry.HeapSlot);
    }

    public void Remove(ReplicaEntry entry)
    {
        var slot = entry.HeapSlot;
        var last = _heap[^1];
        _heap.RemoveAt(_heap.Count - 1);
        entry.HeapSlot = -1;
        if (last == entry)
        {
            return;
        }

        Place(last, slot);
        SiftUp(slot);
        SiftDown(last.HeapSlot);
    }

    private void SiftUp(int slot)
    {
        var entry = _heap[slot];
        while (slot > 0)
        {
            var parent = (slot - 1) >> 1;
            if (_heap[parent].FreeKv >= entry.FreeKv)
            {
                break;
            }

            Place(_heap[parent], slot);
            slot = parent;
        }

        Place(entry, slot);
    }

    private void SiftDown(int slot)
    {
        var entry = _heap[slot];
        while (true)
        {
            var child = (2 * slot) + 1;
            if (child >= _heap.Count)
            {
                break;
            }

            if (child + 1 < _heap.Count && _heap[child + 1].FreeKv > _heap[child].FreeKv)
            {
                child++;
            }

            if (_heap[child].FreeKv <= entry.FreeKv)
            {
                break;
            }

            Place(_heap[child], slot);
            slot = child;
        }

        Place(entry, slot);
    }

    private void Place(ReplicaEntry entry, int slot)
    {
        _heap[slot] = entry;
        entry.HeapSlot = slot;
    }
}
