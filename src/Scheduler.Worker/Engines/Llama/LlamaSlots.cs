using LLama.Native;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>
/// A llama.cpp replica's free slots (the sequence ids no running sequence holds), each keeping the KV cells its last
/// sequence left as a prefix cache: the tokens at positions 0…n−1 of that sequence id. An admission takes the free
/// slot whose cached tokens share the longest prefix with its prompt and prefills only the rest, as llama.cpp's own
/// server reuses a slot's prompt cache. Cells are removed only when a slot is taken (the tail past the shared prefix)
/// or, in a cache the slots share, when running sequences need the room (least recently freed first).
/// </summary>
/// <remarks>
/// Only bookkeeping: the removals it decides are queued (<see cref="TakeRemovals"/>) for the step loop, the only
/// thread that touches the context, to apply before its next decode. Used under the engine's lock.
/// </remarks>
/// <param name="slots">The replica's slots.</param>
/// <param name="sharedCells">The cells of a KV cache the slots share, or null when each slot has its own stream (whose
/// cells no other slot can use, so a free slot's cache never stands in another's way).</param>
internal sealed class LlamaSlots(int slots, long? sharedCells)
{
    /// <summary>The least share of a prompt a cached prefix must cover for the admission to take that slot rather than the
    /// least recently used one (llama.cpp's server uses a similarity threshold of 0.1 the same way): a prefix of one or
    /// two tokens (the beginning-of-sequence token every prompt starts with) is not worth another prompt's cache.</summary>
    private const double MinimumShare = 0.1;

    private readonly List<FreeSlot> _free = [.. Enumerable.Range(0, slots).Select(s => new FreeSlot((LLamaSeqId)s, [], 0))];
    private readonly List<(LLamaSeqId Slot, int Keep)> _removals = [];
    private long _clock;

    /// <summary>Tokens the free slots hold in KV cells.</summary>
    public long CachedTokens { get; private set; }

    /// <summary>Takes the free slot to run <paramref name="prompt"/> in: the one whose cache shares the longest prefix
    /// with it when that covers at least a tenth of the prompt, else the least recently freed. Returns the slot and how
    /// many leading prompt tokens its cells already hold (always leaving the prompt's last token to prefill: its
    /// logits draw the first output token); the cells past them are removed before the next decode.</summary>
    public (LLamaSeqId Slot, int Reused) Take(ReadOnlySpan<LLamaToken> prompt)
    {
        var best = 0;
        var bestShared = 0;
        for (var i = 0; i < _free.Count; i++)
        {
            var shared = prompt.CommonPrefixLength(_free[i].Tokens);
            if (shared > bestShared || (shared == bestShared && _free[i].FreedAt < _free[best].FreedAt))
            {
                (best, bestShared) = (i, shared);
            }
        }

        if (bestShared < prompt.Length * MinimumShare)
        {
            best = _free.Select((f, i) => (f.FreedAt, i)).Min().i;
            bestShared = prompt.CommonPrefixLength(_free[best].Tokens);
        }

        var slot = _free[best];
        _free.RemoveAt(best);
        CachedTokens -= slot.Tokens.Length;
        var reused = Math.Min(bestShared, prompt.Length - 1);
        _removals.Add((slot.Slot, reused));
        return (slot.Slot, reused);
    }

    /// <summary>Frees <paramref name="slot"/>, whose cells hold <paramref name="tokens"/> at positions 0…n−1 (and maybe
    /// more that a step under way writes for a sequence that left: those are removed before the next decode).</summary>
    public void Release(LLamaSeqId slot, LLamaToken[] tokens)
    {
        _free.Add(new FreeSlot(slot, tokens, ++_clock));
        CachedTokens += tokens.Length;
        _removals.Add((slot, tokens.Length));
    }

    /// <summary>In a shared cache, removes the least recently freed slots' cells until they and
    /// <paramref name="reservedTokens"/> (the running sequences' reservations) fit in its cells.</summary>
    public void MakeRoom(long reservedTokens)
    {
        while (sharedCells is { } cells && CachedTokens > 0 && reservedTokens + CachedTokens > cells)
        {
            var oldest = _free.Where(f => f.Tokens.Length > 0).MinBy(f => f.FreedAt)!;
            _free[_free.IndexOf(oldest)] = oldest with { Tokens = [] };
            CachedTokens -= oldest.Tokens.Length;
            _removals.Add((oldest.Slot, 0));
        }
    }

    /// <summary>The removals decided since the last call, in order: each keeps a slot's positions below Keep.</summary>
    public List<(LLamaSeqId Slot, int Keep)> TakeRemovals()
    {
        var removals = new List<(LLamaSeqId Slot, int Keep)>(_removals);
        _removals.Clear();
        return removals;
    }

    /// <param name="Slot">The sequence id.</param>
    /// <param name="Tokens">What its cells hold, from position 0.</param>
    /// <param name="FreedAt">When it was freed, on the engine's own counter (0: never used).</param>
    private sealed record FreeSlot(LLamaSeqId Slot, LLamaToken[] Tokens, long FreedAt);
}
