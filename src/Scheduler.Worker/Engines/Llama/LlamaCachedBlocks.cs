using LLama.Native;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>
/// Which prompt blocks, as the scheduler names them (<see cref="Scheduler.Policies.Prefix.PromptBlocks"/>), a llama.cpp
/// replica's slots hold in their KV cells, so the engine can report the blocks its cache lost
/// (<c>StepReport.evicted_prefix_blocks</c>) and the placement's index of the replica, which mirrors an LRU cache over
/// the whole KV room, forgets what this engine's per-slot caches no longer hold.
/// </summary>
/// <remarks>
/// A slot holds its prompt's blocks from the admission that took it (the placement stores them only once the prefill is
/// reported, so holding them early costs nothing) until another prompt takes the slot — which keeps the blocks the two
/// prompts share as a leading run, as the slot keeps their common tokens — or a shared cache needs its cells. A block is
/// evicted when no slot holds it any more. Approximate where the engine's tokens and the scheduler's blocks disagree (a
/// text prompt is cut at 4 characters a token): a block is counted held while any of its prompt is. Used under the
/// engine's lock.
/// </remarks>
internal sealed class LlamaCachedBlocks
{
    private readonly Dictionary<LLamaSeqId, ulong[]> _bySlot = [];
    private readonly Dictionary<ulong, int> _holders = [];
    private readonly List<ulong> _evicted = [];

    /// <summary>Blocks at least one slot holds.</summary>
    public int Count => _holders.Count;

    /// <summary><paramref name="slot"/> now holds <paramref name="blocks"/> (its new prompt's; empty for a prompt shorter
    /// than a block) instead of what it held.</summary>
    public void Assign(LLamaSeqId slot, IReadOnlyList<ulong> blocks)
    {
        // Held by the new prompt first, so a block the old and new prompts share is never evicted in between.
        foreach (var hash in blocks)
        {
            _holders[hash] = _holders.GetValueOrDefault(hash) + 1;
        }

        Clear(slot);
        if (blocks.Count > 0)
        {
            _bySlot[slot] = [.. blocks];
        }
    }

    /// <summary><paramref name="slot"/>'s cells were removed: it holds no block.</summary>
    public void Clear(LLamaSeqId slot)
    {
        if (!_bySlot.Remove(slot, out var held))
        {
            return;
        }

        // Last block first: the order a cache evicts a prompt in.
        for (var i = held.Length - 1; i >= 0; i--)
        {
            var hash = held[i];
            if (_holders[hash] > 1)
            {
                _holders[hash]--;
            }
            else
            {
                _holders.Remove(hash);
                _evicted.Add(hash);
            }
        }
    }

    /// <summary>Moves the blocks evicted since the last call, in eviction order, into <paramref name="into"/>.</summary>
    public void TakeEvicted(ICollection<ulong> into)
    {
        foreach (var hash in _evicted)
        {
            into.Add(hash);
        }

        _evicted.Clear();
    }
}
