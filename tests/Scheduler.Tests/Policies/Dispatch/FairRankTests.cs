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

        Assert.Equal([0, 1, 2], floodRanks);
        Assert.Equal(0, light.FairRank);
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

        Assert.Equal([0, 0.25, 0.5], weighted.AdmitWhatFits().Select(a => a.FairRank));
        Assert.Equal([0, 0, 0], fifo.AdmitWhatFits().Select(a => a.FairRank));
    }

    [Fact]
    public void AdmitWhatFits_ATenantsRankNeverDropsWhileItRuns_SoItsOwnJobsKeepTheirOrder()
    {
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous");
        var replica = Replica("a", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 100_000);
        dispatcher.Replicas["a"] = replica;
        for (var i = 0; i < 3; i++)
        {
            dispatcher.Queue.Enqueue(Job($"t-{i}", prompt: 100, maxTokens: 10));
        }

        Assert.Equal([0, 1, 2], dispatcher.AdmitWhatFits().Select(a => a.FairRank));

        // Two finish: one runs, yet the next job ranks with the last (2), not ahead of it (1).
        replica.Release("t-0");
        replica.Release("t-1");
        dispatcher.Queue.Enqueue(Job("t-3", prompt: 100, maxTokens: 10));
        Assert.Equal(2, Assert.Single(dispatcher.AdmitWhatFits()).FairRank);

        // Once none runs, the tenant starts again at 0.
        replica.Release("t-2");
        replica.Release("t-3");
        dispatcher.Queue.Enqueue(Job("t-4", prompt: 100, maxTokens: 10));
        Assert.Equal(0, Assert.Single(dispatcher.AdmitWhatFits()).FairRank);
        Assert.Equal(0, replica.LastRankOf("t"));
    }
}
