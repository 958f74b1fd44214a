using System.Numerics;

namespace Scheduler.Policies.Prefix;

/// <summary>
/// A prefix cache of prompt blocks (<see cref="PromptBlocks"/>) within a token budget, evicting the least recently used
/// block first. A prompt's blocks are stored and touched tail first, so its first block is the most recently used of
/// them and eviction eats prompts from their ends, keeping shared prefixes (vLLM frees a sequence's blocks in reverse
/// order for the same reason). The simulated engine keeps one in its free KV cache; the placement keeps one per replica
/// as its approximate index of what that replica holds. Not thread-safe.
/// </summary>
/// <remarks>
/// The recency list lives in arrays (slot indexes for links, freed slots reused), so storing, touching and evicting
/// allocate nothing once the arrays have grown to the cache's size: the placement matches and stores on every decision.
/// Blocks are found through an open-addressing table of 8-byte entries (a tag of the hash and the slot), probed linearly
/// and kept at most half full, deletions shifting later entries back: a lookup usually reads one cache line of the table,
/// and the slot only when the tag matches. The placement keeps one cache per replica, together too large to stay in the
/// processor's caches, so what a block stored or evicted costs is the memory it touches (a dictionary reads a bucket and
/// an entry in two arrays, then the slot): docs/benchmarks.md, "Placement decision cost with prefixes".
/// Because a block's hash chains its whole prefix, every use of a block also uses each block before it, later (tail
/// first): a cached block's predecessors are always at least as recent, so eviction never takes a block before its
/// successors, and a prompt's cached blocks are always a leading run. <see cref="Match"/> finds its end by binary search.
/// </remarks>
/// <param name="capacityTokens">Tokens the cache may hold.</param>
/// <param name="rootEvicted">Called with a prompt's first block when it is evicted or forgotten: a replica index unlists
/// the replica as a holder of that prefix.</param>
/// <param name="recordEvictions">Keeps every block evicted for room until <see cref="TakeEvicted"/>: an engine reports
/// them to the placement, whose index of the replica forgets them (<see cref="Forget"/>).</param>
public sealed class PrefixBlockCache(long capacityTokens, Action<ulong>? rootEvicted = null, bool recordEvictions = false)
{
    private const int None = -1;

    // Tag and slot + 1 per entry; 0 in Slot marks an empty entry. A power of two long, at most half full.
    private Entry[] _table = new Entry[16];
    private int _count;
    private Block[] _slots = [];
    private int _used;     // slots ever handed out; those below it are in the list or the free chain
    private int _free = None;
    private int _head = None; // most recently used
    private int _tail = None; // least recently used
    private readonly List<ulong>? _evicted = recordEvictions ? [] : null;

    public long CapacityTokens { get; private set; } = Math.Max(0, capacityTokens);

    public long UsedTokens { get; private set; }

    public int BlockCount => _count;

    /// <summary>Blocks evicted for room since the cache was made.</summary>
    public long Evictions { get; private set; }

    /// <summary>How many of <paramref name="prompt"/>'s leading blocks are cached, without touching them.</summary>
    public int Match(PromptBlocks? prompt)
    {
        if (prompt is null || _count == 0)
        {
            return 0;
        }

        // The cached blocks are a leading run (see remarks): the first block not cached ends it. Most replicas hold
        // none of a given prompt, so its first block is looked up first.
        var hashes = prompt.HashSpan;
        if (SlotOf(hashes[0]) == None)
        {
            return 0;
        }

        int low = 1, high = hashes.Length;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (SlotOf(hashes[middle]) != None)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    /// <summary>Matches <paramref name="prompt"/>'s leading blocks and marks them used now; returns how many matched.</summary>
    public int Touch(PromptBlocks? prompt)
    {
        var matched = Match(prompt);
        for (var i = matched - 1; i >= 0; i--)
        {
            // A block forgotten inside the run (see Forget) is not there to touch.
            if (SlotOf(prompt!.HashSpan[i]) is var slot and not None)
            {
                MoveToFront(slot);
            }
        }

        return matched;
    }

    /// <summary>Stores every block of <paramref name="prompt"/> (touching those already cached), then evicts down to
    /// the capacity. Returns true when its first block was not cached before.</summary>
    public bool Store(PromptBlocks? prompt)
    {
        TouchAndStore(prompt, out var rootListed);
        return rootListed;
    }

    /// <summary>
    /// <see cref="Touch"/> then <see cref="Store"/> in one pass over the prompt's blocks, each looked up once: how
    /// <see cref="Store"/> stores (a replica's index stores a prompt when its prefill is reported done). Returns the
    /// leading blocks that were cached (what the touch returns); <paramref name="rootListed"/> is true when the first
    /// block was not cached before and is now.
    /// </summary>
    /// <remarks>Touching the cached leading run and then storing the prompt tail first leaves the prompt's blocks in
    /// prompt order at the front, its first block most recent; storing tail first alone leaves the same order, so the
    /// touch is the count it returns. Blocks past the cached run are not cached (a leading run: see the class's
    /// remarks), so the count is the first block not found.</remarks>
    public int TouchAndStore(PromptBlocks? prompt, out bool rootListed)
    {
        rootListed = false;
        if (prompt is null)
        {
            return 0;
        }

        var hashes = prompt.HashSpan;
        var matched = hashes.Length;
        for (var i = hashes.Length - 1; i >= 0; i--)
        {
            var hash = hashes[i];
            if ((_count + 1) * 2 > _table.Length)
            {
                Grow();
            }

            var slot = SlotOrPlace(hash, out var place);
            if (slot != None)
            {
                MoveToFront(slot);
                continue;
            }

            matched = i;
            slot = NewSlot();
            _slots[slot] = new Block(hash, prompt.BlockTokens, i == 0);
            LinkFirst(slot);
            _table[place] = new Entry(Tag(hash), slot + 1);
            _count++;
            UsedTokens += prompt.BlockTokens;
        }

        EvictToCapacity();
        rootListed = matched == 0 && SlotOf(prompt.Root) != None;
        return matched;
    }

    /// <summary>
    /// Drops a block the engine reported evicted; false when it was not cached here. An engine evicts a prompt's blocks
    /// tail first (see the class's remarks), and forgetting them in the order it reports them keeps each prompt's cached
    /// blocks a leading run as long as this cache holds no block past one the engine evicted. Where it does (the two
    /// caches' recency orders differ: the index touches a prompt when the job is admitted, the engine when it runs it), a
    /// hole is left, and <see cref="Match"/>'s binary search may count across it — no worse than the index without the
    /// event, which counted the evicted block too; <see cref="Touch"/> skips it.
    /// </summary>
    public bool Forget(ulong hash)
    {
        var slot = SlotOf(hash);
        if (slot == None)
        {
            return false;
        }

        Remove(slot);
        return true;
    }

    /// <summary>Moves the blocks evicted for room since the last call, in eviction order, into <paramref name="into"/>
    /// (nothing unless the cache records evictions).</summary>
    public void TakeEvicted(ICollection<ulong> into)
    {
        if (_evicted is not { Count: > 0 } evicted)
        {
            return;
        }

        foreach (var hash in evicted)
        {
            into.Add(hash);
        }

        evicted.Clear();
    }

    /// <summary>Drops every block: the engine behind this index started afresh, with an empty cache.</summary>
    public void Clear()
    {
        while (_tail != None)
        {
            Remove(_tail);
        }
    }

    /// <summary>Sets the token budget (an engine's free KV cache shrinks as sequences reserve it), evicting the least
    /// recently used blocks that no longer fit.</summary>
    public void Resize(long capacityTokens)
    {
        CapacityTokens = Math.Max(0, capacityTokens);
        EvictToCapacity();
    }

    // Fibonacci hashing: the upper 32 bits of the hash times 2^64 / φ (mod 2^64), whose top bits pick the home entry
    // (the text hashes' low bits are weak). Stored in the entry, it gives any entry's home without reading its slot,
    // which deletion needs for the entries after the gap; a full compare against the slot's hash settles a match.
    private static uint Tag(ulong hash) => (uint)((hash * 0x9E3779B97F4A7C15UL) >> 32);

    private int Home(uint tag) => (int)(tag >> (32 - BitOperations.Log2((uint)_table.Length))) & (_table.Length - 1);

    private int SlotOf(ulong hash) => SlotOrPlace(hash, out _);

    // The block's slot, or None with the empty entry where it would go. The table is never full, so a probe ends.
    private int SlotOrPlace(ulong hash, out int place)
    {
        var tag = Tag(hash);
        var mask = _table.Length - 1;
        for (place = Home(tag); _table[place].Slot != 0; place = (place + 1) & mask)
        {
            var slot = _table[place].Slot - 1;
            if (_table[place].Tag == tag && _slots[slot].Hash == hash)
            {
                return slot;
            }
        }

        return None;
    }

    // Removes the block's entry and shifts each later entry of the probe run back into the gap when its home is not
    // between the gap and where it sits, so every entry stays reachable from its home without tombstones.
    private void RemoveEntry(ulong hash, int slot)
    {
        var mask = _table.Length - 1;
        var gap = Home(Tag(hash));
        while (_table[gap].Slot != slot + 1)
        {
            gap = (gap + 1) & mask;
        }

        for (var next = (gap + 1) & mask; _table[next].Slot != 0; next = (next + 1) & mask)
        {
            var home = Home(_table[next].Tag);
            var staysPut = gap <= next ? gap < home && home <= next : gap < home || home <= next;
            if (!staysPut)
            {
                _table[gap] = _table[next];
                gap = next;
            }
        }

        _table[gap] = default;
        _count--;
    }

    private void Grow()
    {
        var old = _table;
        _table = new Entry[old.Length * 2];
        var mask = _table.Length - 1;
        foreach (var entry in old)
        {
            if (entry.Slot != 0)
            {
                var place = Home(entry.Tag);
                while (_table[place].Slot != 0)
                {
                    place = (place + 1) & mask;
                }

                _table[place] = entry;
            }
        }
    }

    private int NewSlot()
    {
        if (_free != None)
        {
            var slot = _free;
            _free = _slots[slot].Next;
            return slot;
        }

        if (_used == _slots.Length)
        {
            Array.Resize(ref _slots, Math.Max(16, _slots.Length * 2));
        }

        return _used++;
    }

    private void MoveToFront(int slot)
    {
        if (slot != _head)
        {
            Unlink(slot);
            LinkFirst(slot);
        }
    }

    private void LinkFirst(int slot)
    {
        ref var block = ref _slots[slot];
        block.Previous = None;
        block.Next = _head;
        if (_head != None)
        {
            _slots[_head].Previous = slot;
        }

        _head = slot;
        if (_tail == None)
        {
            _tail = slot;
        }
    }

    private void Unlink(int slot)
    {
        ref var block = ref _slots[slot];
        if (block.Previous != None)
        {
            _slots[block.Previous].Next = block.Next;
        }
        else
        {
            _head = block.Next;
        }

        if (block.Next != None)
        {
            _slots[block.Next].Previous = block.Previous;
        }
        else
        {
            _tail = block.Previous;
        }
    }

    private void EvictToCapacity()
    {
        while (UsedTokens > CapacityTokens && _tail != None)
        {
            var hash = _slots[_tail].Hash;
            Remove(_tail);
            Evictions++;
            _evicted?.Add(hash);
        }
    }

    // Unlinks a block, frees its slot and, for a prompt's first block, tells the owner the prefix is no longer held.
    private void Remove(int slot)
    {
        var block = _slots[slot];
        Unlink(slot);
        RemoveEntry(block.Hash, slot);
        UsedTokens -= block.Tokens;
        _slots[slot].Next = _free;
        _free = slot;
        if (block.IsRoot)
        {
            rootEvicted?.Invoke(block.Hash);
        }
    }

    // A block's entry in the table: its hash's tag and its slot + 1 (0: empty).
    private readonly record struct Entry(uint Tag, int Slot);

    // One cached block and its links in the recency list (slot indexes; None at the ends). A freed slot's Next chains
    // the free slots.
    private struct Block(ulong hash, int tokens, bool isRoot)
    {
        public readonly ulong Hash = hash;
        public readonly int Tokens = tokens;
        public readonly bool IsRoot = isRoot;
        public int Previous;
        public int Next;
    }
}
