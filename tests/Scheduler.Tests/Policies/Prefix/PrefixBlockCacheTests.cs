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

    [Fact]
    public void TouchAndStore_CachedRunLeastRecentlyUsed_SurvivesTheEvictionsForItsNewBlocks()
    {
        // Its cached run, the oldest blocks here, is touched before eviction makes room for its new blocks, so the room
        // comes from the other prompt (a version that evicted before touching would take the run).
        var cache = new PrefixBlockCache(4 * 512);
        var a = Blocks(1, 2);
        var b = Blocks(3, 4);
        cache.Store(a);
        cache.Store(b);

        Assert.Equal(2, cache.TouchAndStore(Blocks(1, 2, 5), out var rootListed));

        Assert.False(rootListed);
        Assert.Equal(3, cache.Match(Blocks(1, 2, 5)));
        Assert.Equal(1, cache.Match(b));
        Assert.Equal(1, cache.Evictions);
    }

    [Fact]
    public void TouchAndStore_NewBlocksGoBehindTheCachedRun_InPromptOrder()
    {
        var cache = new PrefixBlockCache(8 * 512);
        var other = Blocks(7, 8);
        cache.Store(Blocks(1, 2));
        cache.Store(other);

        cache.TouchAndStore(Blocks(1, 2, 3, 4), out _);

        // Least recent first: the other prompt's tail and first block, then this prompt's from its end.
        cache.Resize(3 * 512);
        Assert.Equal(0, cache.Match(other));
        Assert.Equal(3, cache.Match(Blocks(1, 2, 3, 4)));
        cache.Resize(512);
        Assert.Equal(1, cache.Match(Blocks(1, 2, 3, 4)));
    }

    [Fact]
    public void TouchAndStore_PromptLargerThanTheCache_EvictsEveryOtherBlockThenItsOwnTail()
    {
        var roots = new List<ulong>();
        var cache = new PrefixBlockCache(2 * 512, roots.Add);
        var other = Blocks(9);
        cache.Store(other);

        Assert.Equal(0, cache.TouchAndStore(Blocks(1, 2, 3), out var rootListed));

        Assert.True(rootListed);
        Assert.Equal([other.Root], roots);
        Assert.Equal(2, cache.Match(Blocks(1, 2, 3)));
        Assert.Equal(2, cache.Evictions);
        Assert.Equal(2 * 512, cache.UsedTokens);
    }

    [Fact]
    public void TouchAndStore_CacheHoldingOnlyTheCachedRun_EvictsThePromptsNewTailNotTheRun()
    {
        // No other prompt's block is left to make room: the prompt's own new tail is evicted, never the cached run (the
        // evict-before-store version tried in the fourth round fails this when it may evict the run to make room).
        var cache = new PrefixBlockCache(2 * 512);
        cache.Store(Blocks(1, 2));

        Assert.Equal(2, cache.TouchAndStore(Blocks(1, 2, 3), out _));

        Assert.Equal(2, cache.Match(Blocks(1, 2, 3)));
        Assert.Equal(1, cache.Evictions);
        cache.Resize(8 * 512);
        Assert.Equal(2, cache.TouchAndStore(Blocks(1, 2, 3, 4), out _)); // the list and table still agree
        Assert.Equal(4, cache.Match(Blocks(1, 2, 3, 4)));
    }

    [Fact]
    public void TouchAndStore_ReusingEvictedSlots_KeepsEveryBlockFindable()
    {
        // Each admission evicts as many blocks as it stores, freed slots and table entries reused round after round:
        // the table still finds exactly the blocks the last prompts left.
        var cache = new PrefixBlockCache(6 * 512);
        for (var round = 0; round < 200; round++)
        {
            cache.TouchAndStore(Blocks(round * 10, (round * 10) + 1, (round * 10) + 2), out _);
        }

        Assert.Equal(6, cache.BlockCount);
        Assert.Equal(3, cache.Match(Blocks(1990, 1991, 1992)));
        Assert.Equal(3, cache.Match(Blocks(1980, 1981, 1982)));
        Assert.Equal(0, cache.Match(Blocks(1970)));
        Assert.Equal((200 * 3) - 6, cache.Evictions);
    }

    [Fact]
    public void TakeEvicted_HandsOverTheBlocksEvictedForRoom_InEvictionOrder_Once()
    {
        var cache = new PrefixBlockCache(4 * 512, recordEvictions: true);
        var a = Blocks(1, 2, 3);
        cache.Store(a);
        cache.Store(Blocks(4, 5)); // one over: a's tail
        cache.Resize(2 * 512); // two more: a's middle, then its first block

        var evicted = new List<ulong>();
        cache.TakeEvicted(evicted);
        Assert.Equal([a.Hashes[2], a.Hashes[1], a.Hashes[0]], evicted);
        cache.TakeEvicted(evicted);
        Assert.Equal(3, evicted.Count);

        var silent = new PrefixBlockCache(512);
        silent.Store(a);
        var none = new List<ulong>();
        silent.TakeEvicted(none);
        Assert.Empty(none); // a cache that does not record evictions hands over nothing
    }

    [Fact]
    public void Forget_ABlockTheEngineEvicted_EndsThePromptsCachedRunThere_AndUnlistsItsRoot()
    {
        var roots = new List<ulong>();
        var cache = new PrefixBlockCache(10 * 512, roots.Add);
        var a = Blocks(1, 2, 3);
        cache.Store(a);

        Assert.True(cache.Forget(a.Hashes[2]));
        Assert.False(cache.Forget(a.Hashes[2]));
        Assert.Equal(2, cache.Match(a));
        Assert.Equal(2 * 512, cache.UsedTokens);
        Assert.Empty(roots);

        Assert.True(cache.Forget(a.Hashes[1]));
        Assert.True(cache.Forget(a.Hashes[0]));
        Assert.Equal(0, cache.Match(a));
        Assert.Equal([a.Root], roots);
        Assert.Equal(0, cache.Evictions); // forgotten, not evicted for room

        // The freed slots and table entries are reused: the next prompts are found whole.
        cache.Store(Blocks(4, 5, 6));
        cache.Store(a);
        Assert.Equal(3, cache.Match(Blocks(4, 5, 6)));
        Assert.Equal(3, cache.Match(a));
    }

    [Fact]
    public void Touch_AfterABlockInsideTheRunWasForgotten_SkipsTheHole()
    {
        // The index held the prompt's third block past the second, which the engine evicted (their recency orders
        // differ): the hole is skipped, not followed into a missing slot (the simulator failed there once).
        var cache = new PrefixBlockCache(10 * 512);
        var a = Blocks(1, 2, 3);
        cache.Store(a);
        Assert.True(cache.Forget(a.Hashes[1]));

        Assert.InRange(cache.Touch(a), 1, 3);
        Assert.Equal(2, cache.BlockCount);
        Assert.Equal(1, cache.TouchAndStore(Blocks(1, 2, 3, 4), out _)); // the run ends at the hole, stored again from there
        Assert.Equal(4, cache.Match(Blocks(1, 2, 3, 4)));
    }

    [Fact]
    public void Clear_DropsEveryBlock_AndUnlistsEveryRoot()
    {
        var roots = new List<ulong>();
        var cache = new PrefixBlockCache(10 * 512, roots.Add);
        var a = Blocks(1, 2);
        var b = Blocks(3, 4, 5);
        cache.Store(a);
        cache.Store(b);

        cache.Clear();

        Assert.Equal(0, cache.BlockCount);
        Assert.Equal(0, cache.UsedTokens);
        Assert.Equal(new[] { a.Root, b.Root }.Order(), roots.Order());
        Assert.True(cache.Store(a)); // held anew
    }

    [Theory]
    [InlineData(1, 12, 40, 3_000)]
    [InlineData(2, 12, 40, 3_000)]
    [InlineData(3, 12, 40, 3_000)]
    [InlineData(4, 150, 1_200, 1_500)]
    public void Match_IsTheLeadingRunOfALinearLru_UnderRandomStoresTouchesAndResizes(int seed, int sessions, int maxBlocks, int steps)
    {
        // The cache keeps its recency list in arrays, finds blocks through its own open-addressing table (entries shifted
        // back on eviction) and binary-searches a prompt's cached run, which is only right if every prompt's cached
        // blocks are a leading run. Checked against the plainest model of the rule (a list, most recent first, walked
        // block by block): same matches, same evicted roots, same block count, every step. The last case holds enough
        // blocks that the table grows several times while evictions shift its entries back.
        var random = new Random(seed);
        var prompts = Enumerable.Range(0, sessions)
            .SelectMany(s => Enumerable.Range(1, 16).Select(n => Blocks([.. Enumerable.Range(0, n).Select(j => (long)((s * 100) + j))])))
            .ToArray();
        var evicted = new List<ulong>();
        var cache = new PrefixBlockCache(maxBlocks / 2 * 512, evicted.Add);
        var model = new LinearLru(maxBlocks / 2 * 512);
        var partial = 0;
        for (var step = 0; step < steps; step++)
        {
            var prompt = prompts[random.Next(prompts.Length)];
            switch (random.Next(5))
            {
                case 0:
                    Assert.Equal(model.Touch(prompt), cache.Touch(prompt));
                    break;
                case 1:
                    var capacity = random.Next(0, maxBlocks) * 512;
                    cache.Resize(capacity);
                    model.Resize(capacity);
                    break;
                case 2:
                    // What a replica's index does on an admission: the touch's count and whether the prompt's first
                    // block is newly held, in one pass.
                    var rootWasNew = model.Match(prompt) == 0;
                    var touched = model.Touch(prompt);
                    model.Store(prompt);
                    Assert.Equal(touched, cache.TouchAndStore(prompt, out var rootListed));
                    Assert.Equal(rootWasNew && model.Match(prompt) > 0, rootListed);
                    break;
                default:
                    cache.Store(prompt);
                    model.Store(prompt);
                    break;
            }

            Assert.Equal(model.EvictedRoots, evicted);
            Assert.Equal(model.UsedTokens, cache.UsedTokens);
            Assert.Equal(model.Count, cache.BlockCount);
            foreach (var probe in sessions <= 12 ? prompts : prompts.Where(_ => random.Next(20) == 0))
            {
                var matched = model.Match(probe);
                Assert.Equal(matched, cache.Match(probe));
                partial += matched > 0 && matched < probe.Count ? 1 : 0;
            }
        }

        Assert.True(partial > 1_000, $"only {partial} partly cached prompts: eviction was too rare to test much");
    }

    /// <summary>The cache's rule in its plainest form, for the property test: a list of hashes, most recent first.</summary>
    private sealed class LinearLru(long capacityTokens)
    {
        private readonly List<(ulong Hash, bool Root)> _recent = [];
        private long _capacity = capacityTokens;

        public List<ulong> EvictedRoots { get; } = [];

        public long UsedTokens => _recent.Count * 512L;

        public int Count => _recent.Count;

        public int Match(PromptBlocks prompt)
        {
            var matched = 0;
            while (matched < prompt.Count && _recent.Exists(b => b.Hash == prompt.Hashes[matched]))
            {
                matched++;
            }

            return matched;
        }

        public int Touch(PromptBlocks prompt)
        {
            var matched = Match(prompt);
            for (var i = matched - 1; i >= 0; i--)
            {
                MoveToFront(prompt.Hashes[i], i == 0);
            }

            return matched;
        }

        public void Store(PromptBlocks prompt)
        {
            for (var i = prompt.Count - 1; i >= 0; i--)
            {
                MoveToFront(prompt.Hashes[i], i == 0);
            }

            Resize(_capacity);
        }

        public void Resize(long capacityTokens)
        {
            _capacity = capacityTokens;
            while (UsedTokens > _capacity)
            {
                var (hash, root) = _recent[^1];
                _recent.RemoveAt(_recent.Count - 1);
                if (root)
                {
                    EvictedRoots.Add(hash);
                }
            }
        }

        private void MoveToFront(ulong hash, bool root)
        {
            _recent.RemoveAll(b => b.Hash == hash);
            _recent.Insert(0, (hash, root));
        }
    }
}
