using Scheduler.Policies.Prefix;

namespace Scheduler.Tests.Policies.Prefix;

public sealed class PrefixBlockCacheTests
{
    // Trace blocks of 512 tokens: a cache of 2,048 tokens holds 4 blocks.
    private static PromptBlocks Blocks(params long[] ids) => PromptBlocks.FromBlockIds(ids)!;

    [Fact]
    public void Match_CountsLeadingCachedBlocks_StopsAtTheFirstMiss()
    {
        var cache = new PrefixBlockCache(10 * 512);
        cache.Store(Blocks(1, 2, 3));

        Assert.Equal(3, cache.Match(Blocks(1, 2, 3, 4)));
        Assert.Equal(2, cache.Match(Blocks(1, 2, 9)));
        Assert.Equal(0, cache.Match(Blocks(2, 3))); // block 2 behind another first block is another block
        Assert.Equal(0, cache.Match(null));
        Assert.Equal(3 * 512, cache.UsedTokens);
    }

    [Fact]
    public void Store_OverCapacity_EvictsLeastRecentlyUsed_TailsFirst()
    {
        var roots = new List<ulong>();
        var cache = new PrefixBlockCache(4 * 512, roots.Add);
        var a = Blocks(1, 2);
        var b = Blocks(3, 4);
        cache.Store(a);
        cache.Store(b);
        cache.Touch(a); // a is now the more recently used prompt

        cache.Store(Blocks(5)); // one block over: b's tail goes first

        Assert.Equal(2, cache.Match(a));
        Assert.Equal(1, cache.Match(b));
        Assert.Equal(1, cache.Evictions);
        Assert.Empty(roots);

        cache.Store(Blocks(6, 7)); // two more: b's first block, then a's tail (a was touched before 5 was stored)
        Assert.Equal(0, cache.Match(b));
        Assert.Equal(1, cache.Match(a));
        Assert.Equal([b.Root], roots);
        Assert.Equal(4 * 512, cache.UsedTokens);
    }

    [Fact]
    public void Resize_Shrinking_EvictsWhatNoLongerFits_GrowingEvictsNothing()
    {
        var cache = new PrefixBlockCache(4 * 512);
        cache.Store(Blocks(1, 2, 3, 4));

        cache.Resize(8 * 512);
        Assert.Equal(4, cache.BlockCount);
        cache.Resize(512);
        Assert.Equal(1, cache.Match(Blocks(1, 2, 3, 4)));
        cache.Resize(-5);
        Assert.Equal(0, cache.BlockCount);
        Assert.Equal(0, cache.UsedTokens);
    }

    [Fact]
    public void Store_ReportsWhetherTheFirstBlockIsNew()
    {
        var cache = new PrefixBlockCache(4 * 512);

        Assert.True(cache.Store(Blocks(1, 2)));
        Assert.False(cache.Store(Blocks(1, 2, 3)));
        Assert.False(new PrefixBlockCache(0).Store(Blocks(1))); // stored and evicted at once: not held
    }
}
