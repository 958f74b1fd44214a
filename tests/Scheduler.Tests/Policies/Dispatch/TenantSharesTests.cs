using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Dispatch;

public sealed class TenantSharesTests
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
    public void AdmitWhatFits_AloneATenantTakesEverySlot()
    {
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous");
        dispatcher.Replicas["fast"] = Replica("fast", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 100_000);
        for (var i = 0; i < 8; i++)
        {
            dispatcher.Queue.Enqueue(Job($"flood-{i}", tenant: "flood", prompt: 100, maxTokens: 10));
        }

        Assert.Equal(8, dispatcher.AdmitWhatFits().Count);
    }

    [Fact]
    public void AdmitWhatFits_WhileAnotherTenantIsActive_FloodLeavesItRoomOnTheFastReplica()
    {
        // The light tenant runs one sequence on the fast replica; the flood then has 12 jobs queued. The light tenant
        // keeps min(its share 4, 2 × 1 + 1) = 3 slots: the flood takes 5 there, the rest goes to the slow replica.
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous");
        dispatcher.Replicas["fast"] = Replica("fast", AcceleratorProfiles.H100, maxSequences: 8, kvCapacityTokens: 100_000);
        dispatcher.Replicas["slow"] = Replica("slow", AcceleratorProfiles.L4, maxSequences: 64, kvCapacityTokens: 60_000);
        dispatcher.Queue.Enqueue(Job("light-0", tenant: "light", prompt: 100, maxTokens: 10, ttftObjectiveMs: 1));
        Assert.Equal("fast", Assert.Single(dispatcher.AdmitWhatFits()).Replica.ReplicaId);
        for (var i = 0; i < 12; i++)
        {
            dispatcher.Queue.Enqueue(Job($"flood-{i}", tenant: "flood", prompt: 100, maxTokens: 10, ttftObjectiveMs: 1));
        }

        var flood = dispatcher.AdmitWhatFits();
        dispatcher.Queue.Enqueue(Job("light-1", tenant: "light", prompt: 100, maxTokens: 10, ttftObjectiveMs: 1));
        var light = Assert.Single(dispatcher.AdmitWhatFits());

        Assert.Equal(5, flood.Count(a => a.Replica.ReplicaId == "fast"));
        Assert.Equal(7, flood.Count(a => a.Replica.ReplicaId == "slow"));
        Assert.Equal("fast", light.Replica.ReplicaId);
    }

    [Fact]
    public void AdmitWhatFits_TenantOverItsShareEverywhere_WaitsUncharged_OthersStillAdmitted()
    {
        // One replica of 4 slots; "light" runs one and keeps 2 × 1 + 1 = 3 (capped by its share, 2). The flood may
        // take 2; its third job stays queued, at the front of its lane, and the light tenant's next job is admitted.
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous");
        dispatcher.Replicas["a"] = Replica("a", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 100_000);
        dispatcher.Queue.Enqueue(Job("light-0", tenant: "light", prompt: 100, maxTokens: 10));
        Assert.Single(dispatcher.AdmitWhatFits());
        for (var i = 0; i < 3; i++)
        {
            dispatcher.Queue.Enqueue(Job($"flood-{i}", tenant: "flood", prompt: 100, maxTokens: 10));
        }

        Assert.Equal(["flood-0", "flood-1"], dispatcher.AdmitWhatFits().Select(a => a.Job.JobId));
        dispatcher.Queue.Enqueue(Job("light-1", tenant: "light", prompt: 100, maxTokens: 10));

        Assert.Equal(["light-1"], dispatcher.AdmitWhatFits().Select(a => a.Job.JobId));
        Assert.Equal(0, dispatcher.Queue.PositionOf("flood-2"));

        // Once the light tenant has nothing running, the flood may fill the replica.
        dispatcher.Replicas["a"].Release("light-0");
        dispatcher.Replicas["a"].Release("light-1");
        Assert.Equal(["flood-2"], dispatcher.AdmitWhatFits().Select(a => a.Job.JobId));
    }
}
