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
}
