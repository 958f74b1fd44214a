using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Dispatch;

public sealed class FairRankTests
{
    [Fact]
    public void AdmitWhatFits_RanksALightTenantsJobBelowAFloodsOnTheSameReplica()
    {
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous");
        dispatcher.Replicas["a"] = Replica("a", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 100_000);
        for (var i = 0; i < 3; i++)
        {
            dispatcher.Queue.Enqueue(Job($"flood-{i}", tenant: "flood", prompt: 500, maxTokens: 10));
        }

        var floodRanks = dispatcher.AdmitWhatFits().Select(a => a.FairRank).ToList();
        dispatcher.Queue.Enqueue(Job("light", tenant: "light", prompt: 500, maxTokens: 10));
        var light = Assert.Single(dispatcher.AdmitWhatFits());

        // While the flood has more queued, each of its prompts starts where the one before finishes (500 tokens later);
        // the light one starts at the replica's virtual time, 0.
        Assert.Equal([0, 500, 1_000], floodRanks);
        Assert.Equal(0, light.FairRank);
    }

    [Fact]
    public void AdmitWhatFits_OnlyABackloggedTenantsJobsMayDeferTheirDecode_AndHaveTheirPrefillCapped()
    {
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous", maxDecodeDeferrals: 2, contendedPrefillTokens: 256);
        var fifo = Dispatcher.Create("cost-aware", "fifo", "continuous", maxDecodeDeferrals: 2, contendedPrefillTokens: 256);
        foreach (var d in new[] { dispatcher, fifo })
        {
            d.Replicas["a"] = Replica("a", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 100_000);
            for (var i = 0; i < 3; i++)
            {
                d.Queue.Enqueue(Job($"flood-{i}", tenant: "flood", prompt: 500, maxTokens: 10));
            }
        }

        var flood = dispatcher.AdmitWhatFits();
        dispatcher.Queue.Enqueue(Job("light", tenant: "light", prompt: 500, maxTokens: 10));
        var light = Assert.Single(dispatcher.AdmitWhatFits());

        // The flood's jobs admitted while more of its jobs were queued may wait and are capped; its last, and the light
        // one, are not; a queue without shares defers and caps nobody.
        Assert.Equal([2, 2, 0], flood.Select(a => a.DecodeDeferrals));
        Assert.Equal([256, 256, 0], flood.Select(a => a.ContendedPrefillTokens));
        Assert.Equal((0, 0), (light.DecodeDeferrals, light.ContendedPrefillTokens));
        Assert.All(fifo.AdmitWhatFits(), a => Assert.Equal((0, 0), (a.DecodeDeferrals, a.ContendedPrefillTokens)));
    }

    [Fact]
    public void AdmitWhatFits_RankDividesByWeight_FifoRanksAllAlike()
    {
        var weighted = Dispatcher.Create("cost-aware", "weighted-fair", "continuous");
        var fifo = Dispatcher.Create("cost-aware", "fifo", "continuous");
        foreach (var dispatcher in new[] { weighted, fifo })
        {
            dispatcher.Replicas["a"] = Replica("a", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 100_000);
            dispatcher.Queue.SetWeight("heavy", 4);
            for (var i = 0; i < 3; i++)
            {
                dispatcher.Queue.Enqueue(Job($"heavy-{i}", tenant: "heavy", prompt: 100, maxTokens: 10));
            }
        }

        Assert.Equal([0, 25, 50], weighted.AdmitWhatFits().Select(a => a.FairRank));
        Assert.Equal([0, 0, 0], fifo.AdmitWhatFits().Select(a => a.FairRank));
    }

    [Fact]
    public void AdmitWhatFits_ATenantsJobsKeepTheirOrder_OnlyABackloggedOnePushesItsNextBack_NoneStartsBelowWhatWasPrefilled()
    {
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous");
        var replica = Replica("a", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 100_000);
        dispatcher.Replicas["a"] = replica;
        for (var i = 0; i < 3; i++)
        {
            dispatcher.Queue.Enqueue(Job($"t-{i}", prompt: 100, maxTokens: 10));
        }

        Assert.Equal([0, 100, 200], dispatcher.AdmitWhatFits().Select(a => a.FairRank));

        // Two finish while t-2 runs: the next job still starts with t-2 (200), not ahead of it; t-2 left nothing queued
        // behind it, so it did not push the tenant's next start further back.
        replica.Release("t-0");
        replica.Release("t-1");
        dispatcher.Queue.Enqueue(Job("t-3", prompt: 100, maxTokens: 10));
        Assert.Equal(200, Assert.Single(dispatcher.AdmitWhatFits()).FairRank);

        // t-3's prompt is prefilled: the replica's virtual time is 200, where a newcomer starts, not at 0, so prompts
        // waiting with higher ranks are not overtaken for ever.
        replica.PrefillDone("t-3");
        dispatcher.Queue.Enqueue(Job("other", tenant: "other", prompt: 100, maxTokens: 10));
        Assert.Equal(200, Assert.Single(dispatcher.AdmitWhatFits()).FairRank);
        Assert.Equal(200, replica.PrefilledRank);

        // Once none of its jobs runs, a tenant starts at the virtual time again.
        replica.Release("t-2");
        replica.Release("t-3");
        Assert.Equal(0, replica.FairFinishOf("t"));
        dispatcher.Queue.Enqueue(Job("t-4", prompt: 100, maxTokens: 10));
        Assert.Equal(200, Assert.Single(dispatcher.AdmitWhatFits()).FairRank);
    }

    [Theory]
    [InlineData("weighted-fair", "h100")]
    [InlineData("fifo", "l4")]
    public void AdmitWhatFits_CostAware_PredictsALightJobFromThePrefillRankedAheadOfIt(string fairness, string expected)
    {
        var dispatcher = Dispatcher.Create("cost-aware", fairness, "continuous");
        dispatcher.Replicas["h100"] = Replica("h100", AcceleratorProfiles.H100);
        for (var i = 0; i < 8; i++)
        {
            dispatcher.Queue.Enqueue(Job($"flood-{i}", tenant: "flood", prompt: 4_000, maxTokens: 10));
        }

        Assert.Equal(8, dispatcher.AdmitWhatFits().Count);
        dispatcher.Replicas["l4"] = Replica("l4", AcceleratorProfiles.L4);

        // On the H100, 32,000 prompt tokens of the flood are pending (≈ 760 ms to the light job's first token in
        // admission order), but with fair ranks only flood-0's 4,000 (rank 0) prefill before the light job (≈ 124 ms).
        // The empty L4 needs ≈ 141 ms. Under FIFO no replica meets 130 ms and the fastest, the L4, takes it.
        dispatcher.Queue.Enqueue(Job("light", tenant: "light", prompt: 500, ttftObjectiveMs: 130));
        var light = Assert.Single(dispatcher.AdmitWhatFits());

        Assert.Equal(expected, light.Replica.ReplicaId);
    }
}
