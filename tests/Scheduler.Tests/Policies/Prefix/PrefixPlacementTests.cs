using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Prefix;

public sealed class PrefixPlacementTests
{
    // Three 512-token blocks of a 1,600-token prompt: 1,536 tokens can come from a prefix cache.
    private static readonly PromptBlocks s_blocks = PromptBlocks.FromBlockIds([1, 2, 3])!;

    private static JobDemand Prefixed(string id, double ttftObjectiveMs = 1_000, PromptBlocks? blocks = null) =>
        Job(id, prompt: 1_600, maxTokens: 100, ttftObjectiveMs: ttftObjectiveMs) with { Blocks = blocks ?? s_blocks };

    // Two alike A100s: without prefixes the tie goes to "a", registered first.
    private static Dispatcher TwoA100s(string placement)
    {
        var dispatcher = Dispatcher.Create(placement, "fifo", "continuous");
        dispatcher.Replicas["a"] = Replica("a", AcceleratorProfiles.A100);
        dispatcher.Replicas["b"] = Replica("b", AcceleratorProfiles.A100);
        return dispatcher;
    }

    // The replica ran a job with the prompt, which finished: its blocks stay in the (modelled) cache.
    private static void Served(ReplicaView replica, JobDemand job)
    {
        replica.Admit(job);
        replica.PrefillDone(job.JobId);
        replica.Release(job.JobId);
    }

    private static string AdmitOne(Dispatcher dispatcher, JobDemand job)
    {
        dispatcher.Queue.Enqueue(job);
        return Assert.Single(dispatcher.AdmitWhatFits()).Replica.ReplicaId;
    }

    [Fact]
    public void PickReplica_CostAware_PrefersTheReplicaHoldingThePrefix_ByIndexAndByList()
    {
        var dispatcher = TwoA100s("cost-aware");
        Served(dispatcher.Replicas["b"], Prefixed("first"));
        Assert.Equal("a", new CostAwarePlacement().Choose(Job("plain", prompt: 1_600, maxTokens: 100), [.. dispatcher.Replicas.Values])?.ReplicaId);
        var again = Prefixed("again");

        var listed = new CostAwarePlacement().Choose(again, [.. dispatcher.Replicas.Values]);
        Assert.Equal("b", listed?.ReplicaId);
        Assert.Equal(1_536, dispatcher.Replicas["b"].CachedPromptTokens(again));
        Assert.True(ReplicaPrediction.TtftMs(dispatcher.Replicas["b"], again) < ReplicaPrediction.TtftMs(dispatcher.Replicas["a"], again));
        Assert.True(ReplicaPrediction.CostUsd(dispatcher.Replicas["b"], again) < ReplicaPrediction.CostUsd(dispatcher.Replicas["a"], again));

        Assert.Equal("b", AdmitOne(dispatcher, again));
        Assert.Equal(64, dispatcher.Replicas["b"].PendingPrefillTokens); // only the uncached tokens wait for prefill
    }

    [Fact]
    public void PickReplica_PrefersReplicaHoldingPrefix_WhenCheapestIsFull()
    {
        // "a" runs 6 sequences, the holder "b" 4: by the batch share alone a job is cheaper on the fuller "a" even when
        // "b" spares its 1,536-token prefill (the prefill is a small part of a share of the job's time). Placed on "a",
        // those tokens are prefilled again at the A100's whole price; counted, the holder is the cheaper choice.
        var dispatcher = TwoA100s("cost-aware");
        var a = dispatcher.Replicas["a"];
        var b = dispatcher.Replicas["b"];
        Served(b, Prefixed("first"));
        AddDecodingLoad(a, 6);
        AddDecodingLoad(b, 4);
        var placement = new CostAwarePlacement();
        var again = Prefixed("again", ttftObjectiveMs: 5_000);

        Assert.Equal("a", placement.Choose(Prefixed("unshared", ttftObjectiveMs: 5_000, blocks: PromptBlocks.FromBlockIds([7, 8, 9])), dispatcher.Replicas)?.ReplicaId);
        Assert.True(ReplicaPrediction.CostUsd(a, again) < ReplicaPrediction.CostUsd(b, again), "the batch share alone favours the fuller replica");
        Assert.Equal("b", placement.Choose(again, [.. dispatcher.Replicas.Values])?.ReplicaId);
        Assert.Equal("b", AdmitOne(dispatcher, again));
    }

    [Fact]
    public void PickReplica_CostAware_ChargesTheRecomputeOfWhatTheBestCandidateHolds_OnlyToTheOthers()
    {
        // "b" holds the whole 1,536-token prefix, "c" its first block: "a" pays for prefilling all 1,536 again, "c" for
        // the 1,024 it lacks, "b" nothing more — each at its own accelerator's whole price for that prefill.
        var dispatcher = Dispatcher.Create("cost-aware", "fifo", "continuous");
        var a = dispatcher.Replicas["a"] = Replica("a", AcceleratorProfiles.L4);
        var b = dispatcher.Replicas["b"] = Replica("b", AcceleratorProfiles.A100);
        var c = dispatcher.Replicas["c"] = Replica("c", AcceleratorProfiles.H100);
        Served(b, Prefixed("first"));
        Served(c, Prefixed("short", blocks: PromptBlocks.FromBlockIds([1])));
        var again = Prefixed("again", ttftObjectiveMs: 5_000);
        var weighed = new List<WeighedReplica>();

        new CostAwarePlacement().Choose(again, dispatcher.Replicas, weighed);

        // What each also pays, as every candidate does: its predicted wait for the first token, at the default price.
        static double Wait(ReplicaView replica, JobDemand job) => PlacementSettings.DefaultWaitCostUsdPerSecond * ReplicaPrediction.TtftMs(replica, job) / 1000;
        double CostOf(ReplicaView replica) => weighed.First(w => w.Replica == replica).PredictedCostUsd;
        Assert.Equal(ReplicaPrediction.CostUsd(a, again) + ReplicaPrediction.RecomputeCostUsd(AcceleratorProfiles.L4, 1_536) + Wait(a, again), CostOf(a), 1e-15);
        Assert.Equal(ReplicaPrediction.CostUsd(b, again) + Wait(b, again), CostOf(b), 1e-15);
        Assert.Equal(ReplicaPrediction.CostUsd(c, again) + ReplicaPrediction.RecomputeCostUsd(AcceleratorProfiles.H100, 1_024) + Wait(c, again), CostOf(c), 1e-15);
        Assert.Equal(AcceleratorProfiles.L4.HourlyCostUsd(1_536 / AcceleratorProfiles.L4.PrefillTokensPerSecond), ReplicaPrediction.RecomputeCostUsd(AcceleratorProfiles.L4, 1_536));
    }

    [Fact]
    public void PickReplica_CostAware_AHolderWithoutRoom_ChargesNoRecomputeElsewhere()
    {
        // The holder "b" has no KV room for the job: its prefix can be reused nowhere now, so no candidate pays for not
        // reusing it.
        var dispatcher = Dispatcher.Create("cost-aware", "fifo", "continuous");
        var a = dispatcher.Replicas["a"] = Replica("a", AcceleratorProfiles.A100);
        var b = dispatcher.Replicas["b"] = Replica("b", AcceleratorProfiles.A100, kvCapacityTokens: 3_300);
        Served(b, Prefixed("first"));
        AddDecodingLoad(b, 9); // 1,800 reserved: 1,500 free, the job needs 1,700, and the index keeps two blocks
        var again = Prefixed("again", ttftObjectiveMs: 5_000);
        Assert.False(b.Fits(again));
        Assert.Equal(1_024, b.CachedPromptTokens(again));
        var weighed = new List<WeighedReplica>();

        Assert.Equal("a", new CostAwarePlacement().Choose(again, dispatcher.Replicas, weighed)?.ReplicaId);

        var only = Assert.Single(weighed);
        Assert.Equal(ReplicaPrediction.CostUsd(a, again) + (PlacementSettings.DefaultWaitCostUsdPerSecond * ReplicaPrediction.TtftMs(a, again) / 1000), only.PredictedCostUsd, 1e-15);
    }

    [Fact]
    public void PickReplica_CostAware_HotPrefix_SpillsOnceTheHolderWouldMissTheObjective()
    {
        var dispatcher = TwoA100s("cost-aware");
        var b = dispatcher.Replicas["b"];
        Served(b, Prefixed("first"));

        // 30,000 prompt tokens waiting for prefill on "b" (2 s at 15k tok/s): there the job would miss its 1 s objective.
        b.Admit(Job("long", prompt: 30_000, maxTokens: 10));

        Assert.Equal("a", AdmitOne(dispatcher, Prefixed("hot")));
    }

    [Fact]
    public void PickReplica_CostAware_ForgetsAReplacedReplicasPrefixes()
    {
        var dispatcher = TwoA100s("cost-aware");
        Served(dispatcher.Replicas["b"], Prefixed("first"));
        dispatcher.Replicas["b"] = Replica("b", AcceleratorProfiles.A100); // re-registered: a fresh engine, an empty cache

        Assert.Equal("a", AdmitOne(dispatcher, Prefixed("again")));
    }

    [Fact]
    public void PickReplica_PrefixOnly_LongestMatchWins_ThenFewestRunning()
    {
        var dispatcher = TwoA100s(PrefixOnlyPlacement.PolicyName);
        var a = dispatcher.Replicas["a"];
        var b = dispatcher.Replicas["b"];
        Served(a, Prefixed("short", blocks: PromptBlocks.FromBlockIds([1])));
        Served(b, Prefixed("long"));
        AddDecodingLoad(b, 5);

        Assert.Equal("b", AdmitOne(dispatcher, Prefixed("match")));

        // No match anywhere: the less loaded replica.
        Assert.Equal("a", AdmitOne(dispatcher, Prefixed("other", blocks: PromptBlocks.FromBlockIds([9, 9]))));
    }

    [Fact]
    public void PrefillDone_OfACachedJob_ReleasesOnlyItsUncachedTokens_Once()
    {
        var replica = Replica("a", AcceleratorProfiles.A100);
        Served(replica, Prefixed("first"));
        var other = Job("other", prompt: 500, maxTokens: 10);
        replica.Admit(other);
        var again = Prefixed("again");
        replica.Admit(again);
        Assert.Equal(500 + 64, replica.PendingPrefillTokens);

        replica.PrefillDone(again.JobId);
        replica.PrefillDone(again.JobId);

        Assert.Equal(500, replica.PendingPrefillTokens);
    }

    [Fact]
    public void Index_EvictsAsTheEngineWould_WhenReservationsTakeTheRoom()
    {
        // 4,000 KV tokens: the prompt's 1,536 block tokens stay while free; a job reserving 3,000 leaves 1,000 + its
        // own blocks (none), so the oldest prompt's blocks go, tail first.
        var replica = Replica("a", AcceleratorProfiles.A100, kvCapacityTokens: 4_000);
        Served(replica, Prefixed("first"));
        Assert.Equal(1_536, replica.CachedPromptTokens(Prefixed("probe")));

        replica.Admit(Job("big", prompt: 2_900, maxTokens: 100));

        Assert.Equal(1, replica.CachedBlocks);
        Assert.Equal(512, replica.CachedPromptTokens(Prefixed("probe")));
    }

    [Fact]
    public void ForgetPrefixBlocks_TheEngineEvictedWhatTheIndexHeld_NoLongerPredictedNorPreferred()
    {
        // The engine kept less than the index mirrors: it evicted the prompt's last two blocks, then its first.
        var dispatcher = TwoA100s("cost-aware");
        var b = dispatcher.Replicas["b"];
        Served(b, Prefixed("first"));
        Assert.Equal(1_536, b.CachedPromptTokens(Prefixed("probe")));

        Assert.Equal(2, b.ForgetPrefixBlocks([s_blocks.Hashes[2], s_blocks.Hashes[1]]));
        Assert.Equal(512, b.CachedPromptTokens(Prefixed("probe")));
        Assert.Equal("b", AdmitOne(dispatcher, Prefixed("still-one-block")));
        b.Release("still-one-block");

        Assert.Equal(1, b.ForgetPrefixBlocks([s_blocks.Hashes[0], 12345UL]));
        Assert.Equal(0, b.CachedPromptTokens(Prefixed("probe")));
        Assert.Equal(3, b.PrefixBlocksForgotten);
        Assert.Empty(dispatcher.Replicas.PrefixHoldersOf(Prefixed("probe")).ToArray());
        Assert.Equal("a", AdmitOne(dispatcher, Prefixed("gone"))); // no holder left: the tie goes to the first again
    }

    [Fact]
    public void ForgetPrefixes_AFreshEngine_EmptiesTheIndexAndItsHolders()
    {
        var dispatcher = TwoA100s("prefix-only");
        var b = dispatcher.Replicas["b"];
        Served(b, Prefixed("first"));
        Served(b, Prefixed("other", blocks: PromptBlocks.FromBlockIds([7, 8])));

        b.ForgetPrefixes();

        Assert.Equal(0, b.CachedBlocks);
        Assert.Empty(dispatcher.Replicas.PrefixHoldersOf(Prefixed("probe")).ToArray());
        Assert.Equal("a", AdmitOne(dispatcher, Prefixed("again")));
    }
}
