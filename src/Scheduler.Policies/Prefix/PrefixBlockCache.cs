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
/// Because a block's hash chains its whole prefix, every use of a block also uses each block before it, later (tail
/// first): a cached block's predecessors are always at least as recent, so eviction never takes a block before its
/// successors, and a prompt's cached blocks are always a leading run. <see cref="Match"/> finds its end by binary search.
/// </remarks>
/// <param name="capacityTokens">Tokens the cache may hold.</param>
/// <param name="rootEvicted">Called with a prompt's first block when it is evicted: a replica index unlists the replica
/// as a holder of that prefix.</param>
public sealed class PrefixBlockCache(long capacityTokens, Action<ulong>? rootEvicted = null)
{
    private const int None = -1;

    private readonly Dictionary<ulong, int> _slotOf = [];
    private Block[] _slots = [];
    private int _used;     // slots ever handed out; those below it are in the list or the free chain
    private int _free = None;
    private int _head = None; // most recently used
    private int _tail = None; // least recently used

    public long CapacityTokens { get; private set; } = Math.Max(0, capacityTokens);

    public long UsedTokens { get; private set; }

    public int BlockCount => _slotOf.Count;

    /// <summary>Blocks evicted for room since the cache was made.</summary>
    public long Evictions { get; private set; }

    /// <summary>How many of <paramref name="prompt"/>'s leading blocks are cached, without touching them.</summary>
    public int Match(PromptBlocks? prompt)
    {
        if (prompt is null || _slotOf.Count == 0)
        {
            return 0;
        }

        // The cached blocks are a leading run (see remarks): the first block not cached ends it. Most replicas hold
        // none of a given prompt, so its first block is looked up first.
        var hashes = prompt.HashSpan;
        if (!_slotOf.ContainsKey(hashes[0]))
        {
            return 0;
        }

        int low = 1, high = hashes.Length;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (_slotOf.ContainsKey(hashes[middle]))
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
            MoveToFront(_slotOf[prompt!.HashSpan[i]]);
        }

        return matched;
    }

    /// <summary>Stores every block of <paramref name="prompt"/> (touching those already cached), then evicts down to
    /// the capacity. Returns true when its first block was not cached before.</summary>
    public bool Store(PromptBlocks? prompt)
    {
        if (prompt is null)
        {
            return false;
        }

        var hashes = prompt.HashSpan;
        var rootIsNew = !_slotOf.ContainsKey(prompt.Root);
        for (var i = hashes.Length - 1; i >= 0; i--)
        {
            if (_slotOf.TryGetValue(hashes[i], out var slot))
            {
                MoveToFront(slot);
                continue;
            }

            slot = NewSlot();
            _slots[slot] = new Block(hashes[i], prompt.BlockTokens, i == 0);
            LinkFirst(slot);
            _slotOf.Add(hashes[i], slot);
            UsedTokens += prompt.BlockTokens;
        }

        EvictToCapacity();
        return rootIsNew && _slotOf.ContainsKey(prompt.Root);
    }

    /// <summary>Sets the token budget (an engine's free KV cache shrinks as sequences reserve it), evicting the least
    /// recently used blocks that no longer fit.</summary>
    public void Resize(long capacityTokens)
    {
        CapacityTokens = Math.Max(0, capacityTokens);
        EvictToCapacity();
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
            var slot = _tail;
            var block = _slots[slot];
            Unlink(slot);
            _slotOf.Remove(block.Hash);
            UsedTokens -= block.Tokens;
            Evictions++;
            _slots[slot].Next = _free;
            _free = slot;
            if (block.IsRoot)
            {
                rootEvicted?.Invoke(block.Hash);
            }
        }
    }

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
