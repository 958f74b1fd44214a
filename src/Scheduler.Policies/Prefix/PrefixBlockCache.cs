namespace Scheduler.Policies.Prefix;

/// <summary>
/// A prefix cache of prompt blocks (<see cref="PromptBlocks"/>) within a token budget, evicting the least recently used
/// block first. A prompt's blocks are stored and touched tail first, so its first block is the most recently used of
/// them and eviction eats prompts from their ends, keeping shared prefixes (vLLM frees a sequence's blocks in reverse
/// order for the same reason). The simulated engine keeps one in its free KV cache; the placement keeps one per replica
/// as its approximate index of what that replica holds. Not thread-safe.
/// </summary>
/// <param name="capacityTokens">Tokens the cache may hold.</param>
/// <param name="rootEvicted">Called with a prompt's first block when it is evicted: a replica index unlists the replica
/// as a holder of that prefix.</param>
public sealed class PrefixBlockCache(long capacityTokens, Action<ulong>? rootEvicted = null)
{
    private readonly Dictionary<ulong, LinkedListNode<Block>> _blocks = [];

    // Most recently used first.
    private readonly LinkedList<Block> _lru = new();
    private LinkedListNode<Block>? _spare;

    public long CapacityTokens { get; private set; } = Math.Max(0, capacityTokens);

    public long UsedTokens { get; private set; }

    public int BlockCount => _blocks.Count;

    /// <summary>Blocks evicted for room since the cache was made.</summary>
    public long Evictions { get; private set; }

    /// <summary>How many of <paramref name="prompt"/>'s leading blocks are cached, without touching them.</summary>
    public int Match(PromptBlocks? prompt)
    {
        if (prompt is null)
        {
            return 0;
        }

        var hashes = prompt.Hashes;
        var matched = 0;
        while (matched < hashes.Count && _blocks.ContainsKey(hashes[matched]))
        {
            matched++;
        }

        return matched;
    }

    /// <summary>Matches <paramref name="prompt"/>'s leading blocks and marks them used now; returns how many matched.</summary>
    public int Touch(PromptBlocks? prompt)
    {
        var matched = Match(prompt);
        for (var i = matched - 1; i >= 0; i--)
        {
            MoveToFront(_blocks[prompt!.Hashes[i]]);
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

        var rootIsNew = !_blocks.ContainsKey(prompt.Root);
        for (var i = prompt.Count - 1; i >= 0; i--)
        {
            var hash = prompt.Hashes[i];
            if (_blocks.TryGetValue(hash, out var node))
            {
                MoveToFront(node);
                continue;
            }

            var block = new Block(hash, prompt.BlockTokens, i == 0);
            if (_spare is { } spare)
            {
                _spare = null;
                spare.Value = block;
                _lru.AddFirst(spare);
                node = spare;
            }
            else
            {
                node = _lru.AddFirst(block);
            }

            _blocks.Add(hash, node);
            UsedTokens += block.Tokens;
        }

        EvictToCapacity();
        return rootIsNew && _blocks.ContainsKey(prompt.Root);
    }

    /// <summary>Sets the token budget (an engine's free KV cache shrinks as sequences reserve it), evicting the least
    /// recently used blocks that no longer fit.</summary>
    public void Resize(long capacityTokens)
    {
        CapacityTokens = Math.Max(0, capacityTokens);
        EvictToCapacity();
    }

    private void MoveToFront(LinkedListNode<Block> node)
    {
        if (node != _lru.First)
        {
            _lru.Remove(node);
            _lru.AddFirst(node);
        }
    }

    private void EvictToCapacity()
    {
        while (UsedTokens > CapacityTokens && _lru.Last is { } last)
        {
            var block = last.Value;
            _lru.RemoveLast();
            _blocks.Remove(block.Hash);
            UsedTokens -= block.Tokens;
            Evictions++;
            _spare = last;
            if (block.IsRoot)
            {
                rootEvicted?.Invoke(block.Hash);
            }
        }
    }

    private readonly record struct Block(ulong Hash, int Tokens, bool IsRoot);
}
