using LLama.Native;
using Scheduler.Worker.Engines.Llama;

namespace Scheduler.Tests.Worker.Llama;

/// <summary>The bookkeeping of a llama.cpp replica's free slots and the prefixes their cells keep.</summary>
public sealed class LlamaSlotsTests
{
    [Fact]
    public void Take_PrefersTheLongestSharedPrefix_ElseTheLowestEmptySlot_ElseTheLowest()
    {
        var slots = new LlamaSlots(3, sharedCells: null);
        var (a, _) = slots.Take(Tokens(1, 2, 3, 4, 5, 6), []);
        var (b, _) = slots.Take(Tokens(1, 2, 9, 9), []);
        slots.Release(a, Tokens(1, 2, 3, 4, 5, 6, 7));
        slots.Release(b, Tokens(1, 2, 9, 9, 8));
        slots.TakeEdits();

        // Shares 4 tokens with a's cells, 2 with b's: a's slot, trimmed to the 4.
        Assert.Equal((a, 4), slots.Take(Tokens(1, 2, 3, 4, 0, 0, 0, 0, 0, 0), []));

        // The whole prompt cached: all but its last token is reused, which is prefilled again for its logits.
        slots.Release(a, Tokens(1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 5));
        Assert.Equal((a, 9), slots.Take(Tokens(1, 2, 3, 4, 0, 0, 0, 0, 0, 0), []));

        // One token in twenty shared is not worth b's cache: the never-used slot is taken, then the lowest left (a's,
        // holding an unrelated token), and b's cache stays.
        slots.Release(a, Tokens(7));
        var prompt = Tokens([1, .. Enumerable.Repeat(3, 19)]);
        Assert.Equal(((LLamaSeqId)2, 0), slots.Take(prompt, []));
        Assert.Equal((a, 0), slots.Take(prompt, []));
        Assert.Equal(5, slots.CachedTokens);
    }

    [Fact]
    public void Release_AndTake_QueueRemovals_InOrder_AndCountTheCachedTokens()
    {
        var slots = new LlamaSlots(1, sharedCells: null);
        var (slot, reused) = slots.Take(Tokens(1, 2, 3), []);
        slots.Release(slot, Tokens(1, 2, 3, 4));
        Assert.Equal(4, slots.CachedTokens);
        slots.Take(Tokens(1, 2, 8), []);

        // Taken fresh (keep 0), released with 4 tokens (anything a step under way wrote past them goes), taken again
        // keeping the 2 shared.
        Assert.Equal(0, reused);
        Assert.Equal([new LlamaKvEdit(slot, 0), new LlamaKvEdit(slot, 4), new LlamaKvEdit(slot, 2)], slots.TakeEdits());
        Assert.Empty(slots.TakeEdits());
        Assert.Equal(0, slots.CachedTokens);
    }

    [Fact]
    public void MakeRoom_InASharedCache_RemovesTheLeastRecentlyFreedCells_AndNothingInOwnStreams()
    {
        var shared = new LlamaSlots(3, sharedCells: 100);
        var own = new LlamaSlots(3, sharedCells: null);
        foreach (var slots in new[] { shared, own })
        {
            var (a, _) = slots.Take(Tokens(1), []);
            var (b, _) = slots.Take(Tokens(2), []);
            slots.Release(a, Tokens([.. Enumerable.Repeat(1, 30)]));
            slots.Release(b, Tokens([.. Enumerable.Repeat(2, 20)]));
            slots.TakeEdits();
            slots.MakeRoom(60);
        }

        // 60 reserved + 50 cached > 100: a's 30 (freed first) go; b's 20 fit.
        Assert.Equal((20L, 50L), (shared.CachedTokens, own.CachedTokens));
        Assert.Equal([new LlamaKvEdit((LLamaSeqId)0, 0)], shared.TakeEdits());
        Assert.Empty(own.TakeEdits());
    }

    [Fact]
    public void Take_InASharedCache_GivesTheSlotARunningSequencesLongerPrefix_AndNeverAcrossOwnStreams()
    {
        var shared = new LlamaSlots(3, sharedCells: 1000);
        var own = new LlamaSlots(3, sharedCells: null);
        (LLamaSeqId, LLamaToken[])[] running = [((LLamaSeqId)0, Tokens(1, 2, 3, 4, 5, 6, 7, 8))];
        foreach (var slots in new[] { shared, own })
        {
            slots.Take(Tokens(1), []);
            var (b, _) = slots.Take(Tokens(1, 2), []);
            slots.Release(b, Tokens(1, 2));
            slots.TakeEdits();
        }

        // b's free slot shares 2 tokens, the running sequence in slot 0 shares 5: slot 1 is emptied and given those 5.
        Assert.Equal(((LLamaSeqId)1, 5), shared.Take(Tokens(1, 2, 3, 4, 5, 9, 9), running));
        Assert.Equal([new LlamaKvEdit((LLamaSeqId)1, 0), new LlamaKvEdit((LLamaSeqId)1, 5, (LLamaSeqId)0)], shared.TakeEdits());
        Assert.Equal(((LLamaSeqId)1, 2), own.Take(Tokens(1, 2, 3, 4, 5, 9, 9), running));
        Assert.Equal([new LlamaKvEdit((LLamaSeqId)1, 2)], own.TakeEdits());
    }

    private static LLamaToken[] Tokens(params int[] ids) => [.. ids.Select(i => (LLamaToken)i)];
}
