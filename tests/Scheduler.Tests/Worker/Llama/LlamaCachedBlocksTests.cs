using LLama.Native;
using Scheduler.Worker.Engines.Llama;

namespace Scheduler.Tests.Worker.Llama;

/// <summary>Which scheduler-named prompt blocks a llama.cpp replica's slots hold, and which they lost.</summary>
public sealed class LlamaCachedBlocksTests
{
    private static readonly LLamaSeqId s_a = (LLamaSeqId)0;
    private static readonly LLamaSeqId s_b = (LLamaSeqId)1;

    private static List<ulong> Evicted(LlamaCachedBlocks blocks)
    {
        var evicted = new List<ulong>();
        blocks.TakeEvicted(evicted);
        return evicted;
    }

    [Fact]
    public void Assign_ANewPromptInTheSlot_EvictsOnlyTheOldBlocksItDoesNotShare_LastFirst()
    {
        var blocks = new LlamaCachedBlocks();
        blocks.Assign(s_a, [1, 2, 3, 4]);
        Assert.Empty(Evicted(blocks));

        blocks.Assign(s_a, [1, 2, 9]);

        Assert.Equal([4UL, 3UL], Evicted(blocks));
        Assert.Empty(Evicted(blocks)); // handed over once
        Assert.Equal(3, blocks.Count);
    }

    [Fact]
    public void ABlockAnotherSlotStillHolds_IsNotEvicted_UntilTheLastSlotLetsItGo()
    {
        var blocks = new LlamaCachedBlocks();
        blocks.Assign(s_a, [1, 2, 3]);
        blocks.Assign(s_b, [1, 2, 7]);

        blocks.Clear(s_a);
        Assert.Equal([3UL], Evicted(blocks));

        blocks.Assign(s_b, []);
        Assert.Equal([7UL, 2UL, 1UL], Evicted(blocks));
        Assert.Equal(0, blocks.Count);

        blocks.Clear(s_b); // holds nothing: nothing more to evict
        Assert.Empty(Evicted(blocks));
    }

    [Fact]
    public void MakeRoom_EmptyingAFreeSlotsCells_EvictsItsBlocks()
    {
        // A shared cache of 10 cells: a slot freed with 8 cached tokens must give them up when 5 are reserved.
        var blocks = new LlamaCachedBlocks();
        var slots = new LlamaSlots(2, sharedCells: 10, blocks);
        LLamaToken[] prompt = [.. Enumerable.Range(1, 8).Select(i => (LLamaToken)i)];
        var (slot, _) = slots.Take(prompt, []);
        blocks.Assign(slot, [11, 12]);
        slots.Release(slot, prompt);

        slots.MakeRoom(5);

        Assert.Equal([12UL, 11UL], Evicted(blocks));
        Assert.Equal(0, slots.CachedTokens);
    }
}
