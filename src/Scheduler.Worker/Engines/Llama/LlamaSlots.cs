using LLama.Native;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>
/// A llama.cpp replica's free slots (the sequence ids no running sequence holds), each keeping the KV cells its last
/// sequence left as a prefix cache: the tokens at positions 0…n−1 of that sequence id. An admission takes the free
/// slot whose cached tokens share the longest prefix with its prompt and prefills only the rest, as llama.cpp's own
/// server reuses a slot's prompt cache; in a cache the slots share, a running sequence's longer shared prefix is
/// given to the slot instead (llama.cpp tags its cells with the slot's sequence id: free of compute). Cells are removed
/// only when a slot is taken (the tail past the shared prefix) or, in a shared cache, when running sequences need the
/// room (least recently freed first).
/// </summary>
/// <remarks>
/// Only bookkeeping: the edits it decides are queued (<see cref="TakeEdits"/>) for the step loop, the only thread that
/// touches the context, to apply in order before its next decode. Used under the engine's lock. Across own streams
/// llama.cpp copies only whole streams (<c>seq_cp</c> with a partial range aborts), so there is no copying there.
/// </remarks>
/// <param name="slots">The replica's slots.</param>
/// <param name="sharedCells">The cells of a KV cache the slots share, or null when each slot has its own stream (whose
/// cells no other slot can use, so a free slot's cache never stands in another's way).</param>
/// <param name="blocks">The prompt blocks the slots hold, told when <see cref="MakeRoom"/> empties a slot; null: not kept.</param>
/// <param name="keepsPrefixes">False when the context's memory cannot be cut back to a prefix of a sequence (a recurrent
/// model's, which holds one state per sequence rather than a cell per position: <see cref="LlamaMemory.KeepsPrefixes"/>):
/// then nothing is reused, and a taken slot is emptied whole.</param>
internal sealed class LlamaSlots(int slots, long? sharedCells, LlamaCachedBlocks? blocks = null, bool keepsPrefixes = true)
{
    /// <summary>The least share of a prompt a cached prefix must cover for the admission to take that slot rather than the
    /// lowest empty one (llama.cpp's server uses a similarity threshold of 0.1 the same way): a prefix of one or
    /// two tokens (the beginning-of-sequence token every prompt starts with) is not worth another prompt's cache.</summary>
    private const double MinimumShare = 0.1;

    private readonly List<FreeSlot> _free = [.. Enumerable.Range(0, slots).Select(s => new FreeSlot((LLamaSeqId)s, [], 0))];
    private readonly List<LlamaKvEdit> _edits = [];
    private long _clock;

    /// <summary>Tokens the free slots hold in KV cells.</summary>
    public long CachedTokens { get; private set; }

    /// <summary>Takes the free slot to run <paramref name="prompt"/> in: the one whose cache shares the longest prefix
    /// with it when that covers at least a tenth of the prompt (the lowest of equals), else the lowest slot holding no cache,
    /// else the lowest free slot. Returns the slot and how
    /// many leading prompt tokens its cells already hold (always leaving the prompt's last token to prefill: its
    /// logits draw the first output token); the cells past them are removed before the next decode. In a shared cache,
    /// when one of <paramref name="running"/> (the running sequences' slots and the tokens their cells hold) shares a
    /// longer prefix, the slot is emptied and given that sequence's cells of it instead.</summary>
    public (LLamaSeqId Slot, int Reused) Take(LLamaToken[] prompt, IEnumerable<(LLamaSeqId Slot, LLamaToken[] Tokens)> running)
    {
        var best = 0;
        var bestShared = 0;
        for (var i = 0; i < _free.Count; i++)
        {
            var shared = Shared(prompt, _free[i].Tokens);
            if (shared > bestShared || (shared == bestShared && _free[i].Slot.Value < _free[best].Slot.Value))
            {
                (best, bestShared) = (i, shared);
            }
        }

        if (bestShared < prompt.Length * MinimumShare)
        {
            // No cache worth reusing: a slot holding none, so no other prompt's cache goes for it; else the lowest. Low
            // slots first because with a KV stream per slot llama.cpp decodes the running sequences in one pass over the
            // weights only while their slots are consecutive (LlamaEngine.Plan).
            best = _free.Select((f, i) => (Cached: f.Tokens.Length > 0, f.Slot.Value, i)).Min().i;
            bestShared = Shared(prompt, _free[best].Tokens);
        }

        var slot = _free[best];
        _free.RemoveAt(best);
        CachedTokens -= slot.Tokens.Length;
        var reused = Math.Min(bestShared, prompt.Length - 1);
        if (sharedCells is not null && LongestPrefix(prompt, running) is var (source, copied) && copied > reused)
        {
            _edits.Add(new LlamaKvEdit(slot.Slot, 0));
            _edits.Add(new LlamaKvEdit(slot.Slot, copied, source));
            return (slot.Slot, copied);
        }

        _edits.Add(new LlamaKvEdit(slot.Slot, reused));
        return (slot.Slot, reused);
    }

    /// <summary>Frees <paramref name="slot"/>, whose cells hold <paramref name="tokens"/> at positions 0…n−1 (and maybe
    /// more that a step under way writes for a sequence that left: those are removed before the next decode).</summary>
    public void Release(LLamaSeqId slot, LLamaToken[] tokens)
    {
        _free.Add(new FreeSlot(slot, tokens, ++_clock));
        CachedTokens += tokens.Length;
        _edits.Add(new LlamaKvEdit(slot, tokens.Length));
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
            _edits.Add(new LlamaKvEdit(oldest.Slot, 0));
            blocks?.Clear(oldest.Slot);
        }
    }

    /// <summary>The edits decided since the last call, in the order they must be applied.</summary>
    public List<LlamaKvEdit> TakeEdits()
    {
        var edits = new List<LlamaKvEdit>(_edits);
        _edits.Clear();
        return edits;
    }

    /// <summary>The running sequence sharing the longest prefix with <paramref name="prompt"/>, short of its last token.</summary>
    private (LLamaSeqId Slot, int Shared) LongestPrefix(LLamaToken[] prompt, IEnumerable<(LLamaSeqId Slot, LLamaToken[] Tokens)> running)
    {
        var best = (Slot: default(LLamaSeqId), Shared: 0);
        foreach (var (slot, tokens) in running)
        {
            var shared = Math.Min(Shared(prompt, tokens), prompt.Length - 1);
            if (shared > best.Shared)
            {
                best = (slot, shared);
            }
        }

        return best;
    }

    /// <summary>How many leading tokens of <paramref name="prompt"/> cells holding <paramref name="tokens"/> give it: none
    /// when the memory cannot be cut back to them.</summary>
    private int Shared(LLamaToken[] prompt, LLamaToken[] tokens) => keepsPrefixes ? prompt.AsSpan().CommonPrefixLength(tokens) : 0;

    /// <param name="Slot">The sequence id.</param>
    /// <param name="Tokens">What its cells hold, from position 0.</param>
    /// <param name="FreedAt">When it was freed, on the engine's own counter (0: never used).</param>
    private sealed record FreeSlot(LLamaSeqId Slot, LLamaToken[] Tokens, long FreedAt);
}
