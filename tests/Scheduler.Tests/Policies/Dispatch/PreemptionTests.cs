using Scheduler.Policies;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Dispatch;

public sealed class PreemptionTests
{
    private static double Weight(string tenant) => 1;

    private static int NoneQueued(string tenant) => 0;

    // A replica with as many slots as running jobs and KV room for exactly them (700 tokens each): a job fits only where
    // one leaves.
    private static ReplicaSet Full(params JobDemand[] running)
    {
        var set = new ReplicaSet();
        var replica = Replica("h", AcceleratorProfiles.H100, maxSequences: running.Length, kvCapacityTokens: 700 * running.Length);
        set["h"] = replica;
        foreach (var job in running)
        {
            replica.Admit(job);
            replica.PrefillDone(job.JobId);
        }

        return set;
    }

    [Fact]
    public void PickVictim_PrefersSheddableOverShareSequence()
    {
        // The flood holds three slots (over its share of two); "shed" of a third tenant is sheddable.
        var set = Full(
            Job("f1", "flood"), Job("f2", "flood"), Job("f3", "flood"),
            Job("shed", "other", priority: JobPriority.Sheddable));

        var picked = Preemption.PickVictim(Job("light-1", "light"), set, Weight, NoneQueued, maxPreemptions: 2);

        Assert.Equal("shed", picked?.Victim.JobId);
    }

    [Fact]
    public void PickVictim_StopsTheLatestOverShareSequence_ForAnUnderShareTenant()
    {
        var set = Full(Job("f1", "flood"), Job("f2", "flood"), Job("f3", "flood"), Job("f4", "flood"));

        var picked = Preemption.PickVictim(Job("light-1", "light"), set, Weight, NoneQueued, maxPreemptions: 2);

        // All four are the flood's and prefilled: the latest admitted has made the least progress.
        Assert.Equal("f4", picked?.Victim.JobId);
        Assert.Equal("h", picked?.Replica.ReplicaId);
    }

    [Fact]
    public void PickVictim_PrefersASequenceStillPrefilling()
    {
        var set = new ReplicaSet();
        var replica = Replica("h", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 2_800);
        set["h"] = replica;
        foreach (var id in new[] { "f1", "f2", "f3" })
        {
            replica.Admit(Job(id, "flood"));
            replica.PrefillDone(id);
        }

        replica.Admit(Job("f0", "flood"));
        Assert.Equal("f0", Preemption.PickVictim(Job("light-1", "light"), set, Weight, NoneQueued, maxPreemptions: 2)?.Victim.JobId);
    }

    [Fact]
    public void PickVictim_NoneWhenTheWaitingTenantHasItsShare()
    {
        // Two tenants, two slots each: the light tenant is at its share, the flood not over it. Stopping the flood's
        // would only make the flood under-share and start a ping-pong.
        var set = Full(Job("f1", "flood"), Job("f2", "flood"), Job("l1", "light"), Job("l2", "light"));

        Assert.Null(Preemption.PickVictim(Job("light-3", "light"), set, Weight, NoneQueued, maxPreemptions: 2));
    }

    [Fact]
    public void PickVictim_HysteresisLeavesTheVictimsTenantAtItsShare()
    {
        // Flood 3, light 1: share 2 each. The flood, stopped once, keeps 2 — its share; a waiting flood job then is not
        // under its share (2 + 1 > 2), so it cannot stop the light tenant's sequence back.
        var set = Full(Job("f1", "flood"), Job("f2", "flood"), Job("f3", "flood"), Job("l1", "light"));
        var first = Preemption.PickVictim(Job("l2", "light"), set, Weight, NoneQueued, maxPreemptions: 2);
        Assert.NotNull(first);
        var replica = set["h"];
        replica.Release(first.Value.Victim.JobId);
        replica.Admit(Job("l2", "light"));

        Assert.Null(Preemption.PickVictim(first.Value.Victim with { Preemptions = 1 }, set, Weight, NoneQueued, maxPreemptions: 2));
        Assert.Null(Preemption.PickVictim(Job("l3", "light"), set, Weight, NoneQueued, maxPreemptions: 2));
    }

    [Fact]
    public void PickVictim_NeverStopsAJobPreemptedTheMaximumNumberOfTimes()
    {
        var set = Full(
            Job("f1", "flood") with { Preemptions = 2 }, Job("f2", "flood") with { Preemptions = 2 },
            Job("f3", "flood") with { Preemptions = 2 }, Job("f4", "flood"));

        Assert.Equal("f4", Preemption.PickVictim(Job("light-1", "light"), set, Weight, NoneQueued, maxPreemptions: 2)?.Victim.JobId);
        set["h"].Release("f4");
        set["h"].Admit(Job("f5", "flood") with { Preemptions = 2 });
        Assert.Null(Preemption.PickVictim(Job("light-1", "light"), set, Weight, NoneQueued, maxPreemptions: 2));
    }

    [Fact]
    public void PickVictim_ACriticalJobStopsAnOverShareSequence_AtItsOwnShare()
    {
        // Six slots, three tenants: a share of two each. The light tenant has its two, the flood one over its share.
        var set = Full(
            Job("f1", "flood"), Job("f2", "flood"), Job("f3", "flood"), Job("l1", "light"), Job("l2", "light"), Job("o1", "other"));

        Assert.Null(Preemption.PickVictim(Job("plain", "light"), set, Weight, NoneQueued, maxPreemptions: 2));
        Assert.Equal("f3", Preemption.PickVictim(Job("urgent", "light", priority: JobPriority.Critical), set, Weight, NoneQueued, maxPreemptions: 2)?.Victim.JobId);
    }

    [Fact]
    public void PickVictim_NeverStopsASequenceOfAHigherClass()
    {
        JobDemand Critical(string id) => Job(id, "flood", priority: JobPriority.Critical);
        var set = Full(Critical("f1"), Critical("f2"), Critical("f3"), Critical("f4"));

        Assert.Null(Preemption.PickVictim(Job("light-1", "light"), set, Weight, NoneQueued, maxPreemptions: 2));
    }

    [Fact]
    public void PickVictim_OnlyWhereTheJobThenMeetsItsObjective()
    {
        var set = Full(Job("f1", "flood"), Job("f2", "flood"), Job("f3", "flood"), Job("f4", "flood"));

        // Even an empty H100 cannot prefill 2,000 tokens in 1 ms.
        Assert.Null(Preemption.PickVictim(Job("light-1", "light", prompt: 500, ttftObjectiveMs: 1), set, Weight, NoneQueued, maxPreemptions: 2));
    }

    [Fact]
    public void PickVictim_OnlyAVictimWhoseRoomFitsTheJob()
    {
        // Each running job holds 700 KV tokens and none is free: a 1,500-token job fits nowhere one leaves.
        var set = Full(Job("f1", "flood"), Job("f2", "flood"), Job("f3", "flood"), Job("f4", "flood"));

        Assert.Null(Preemption.PickVictim(Job("light-1", "light", prompt: 1_300, maxTokens: 200, ttftObjectiveMs: 10_000), set, Weight, NoneQueued, maxPreemptions: 2));
    }

    [Fact]
    public void PickVictim_WeightsSetTheShares()
    {
        // The flood weighs 3: of 4 slots its share is 3, so with 3 running it is not over it.
        var set = Full(Job("f1", "flood"), Job("f2", "flood"), Job("f3", "flood"), Job("l1", "light"));

        Assert.Null(Preemption.PickVictim(Job("l2", "light"), set, t => t == "flood" ? 3 : 1, NoneQueued, maxPreemptions: 2));
        Assert.NotNull(Preemption.PickVictim(Job("l2", "light"), set, Weight, NoneQueued, maxPreemptions: 2));
    }

    // An L4 whose four slots hold the flood's long contexts (4,000 prompt tokens each), prefilled unless listed: stopping
    // one costs its 4,000-token recompute on the L4 (≈ 0.69 s), which delays the four sequences of the batch (≈ 2.8 s).
    private static ReplicaSet LongContexts(params string[] prefilling)
    {
        var set = new ReplicaSet();
        var replica = Replica("l4", AcceleratorProfiles.L4, maxSequences: 4, kvCapacityTokens: 4 * 4_200);
        set["l4"] = replica;
        foreach (var id in new[] { "f1", "f2", "f3", "f4" })
        {
            replica.Admit(Job(id, "flood", prompt: 4_000));
            if (!prefilling.Contains(id))
            {
                replica.PrefillDone(id);
            }
        }

        return set;
    }

    [Fact]
    public void PickVictim_RefusesAVictimWhoseRecomputeCostsMoreThanTheWaitSaves()
    {
        // The light job (objective 1 s) would spare well under a second; the flood has nothing more waiting.
        var set = LongContexts();

        Assert.Null(Preemption.PickVictim(Job("light-1", "light"), set, Weight, NoneQueued, maxPreemptions: 2));

        // With ten seconds to spare the recompute is worth it.
        Assert.Equal("f4", Preemption.PickVictim(Job("light-2", "light", ttftObjectiveMs: 10_000), set, Weight, NoneQueued, maxPreemptions: 2)?.Victim.JobId);
    }

    [Fact]
    public void PickVictim_StopsAnExpensiveVictim_WhenItsTenantHasMoreWorkQueued()
    {
        // A flood backlogged in the fair queue takes more than its share for as long as it sends: its share is taken back
        // whatever the stop costs.
        var set = LongContexts();

        var picked = Preemption.PickVictim(Job("light-1", "light"), set, Weight, t => t == "flood" ? 3 : 0, maxPreemptions: 2);

        Assert.Equal("f4", picked?.Victim.JobId);
    }

    [Fact]
    public void PickVictim_StopsAPrefillingVictim_WhenAnotherPromptOfItsTenantIsPendingThere()
    {
        // The light job's objective (2.5 s) leaves room for the pending prefill ahead of it, not for a 2.8 s recompute.
        var light = Job("light-1", "light", ttftObjectiveMs: 2_500);

        // The flood's backlog sits in the engine (two prompts pending): the later one is stopped, having delivered nothing.
        Assert.Equal("f4", Preemption.PickVictim(light, LongContexts("f3", "f4"), Weight, NoneQueued, maxPreemptions: 2)?.Victim.JobId);

        // One prompt pending is the tenant's only work waiting: it is not stopped at that price.
        Assert.Null(Preemption.PickVictim(light, LongContexts("f4"), Weight, NoneQueued, maxPreemptions: 2));
    }

    [Fact]
    public void PickVictim_OnlyOnAReplicaHoldingTheJobsLongestCachedPrefix()
    {
        var blocks = PromptBlocks.FromBlockIds([1, 2, 3, 4], blockTokens: 100)!;
        var set = new ReplicaSet();
        // Room for four running jobs (700 KV tokens each) and the 400 tokens of the job's cached prefix.
        var holder = Replica("holder", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 3_200);
        var other = Replica("other", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 3_200);
        set["holder"] = holder;
        set["other"] = other;

        // The holder ran the job's first turn; the other ran more jobs since, so its sequences are the later admitted.
        holder.Admit(Job("turn-1", "light") with { Blocks = blocks });
        holder.PrefillDone("turn-1");
        holder.Release("turn-1");
        for (var i = 0; i < 3; i++)
        {
            other.Admit(Job($"o{i}", "other"));
            other.Release($"o{i}");
        }

        foreach (var (replica, prefix) in new[] { (holder, "h"), (other, "x") })
        {
            for (var i = 1; i <= 4; i++)
            {
                replica.Admit(Job($"{prefix}{i}", "flood"));
                replica.PrefillDone($"{prefix}{i}");
            }
        }

        var waiting = Job("turn-2", "light") with { Blocks = blocks };
        Assert.True(holder.CachedPromptTokens(waiting) > 0);

        Assert.Equal("holder", Preemption.PickVictim(waiting, set, Weight, NoneQueued, maxPreemptions: 2)?.Replica.ReplicaId);

        // Without a prefix nobody holds, the later admitted sequence of the other replica goes first.
        Assert.Equal("other", Preemption.PickVictim(Job("turn-x", "light"), set, Weight, NoneQueued, maxPreemptions: 2)?.Replica.ReplicaId);
    }

    [Fact]
    public void AdmitWhatFits_StopsTheFloodsLatestSequenceForALightJob_AndAdmitsItInItsPlace()
    {
        var dispatcher = Dispatcher.Create("cost-aware", "weighted-fair", "continuous", maxPreemptions: 2);
        dispatcher.Replicas["h"] = Replica("h", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 2_800);
        for (var i = 0; i < 6; i++)
        {
            dispatcher.Queue.Enqueue(Job($"f{i}", "flood", ttftObjectiveMs: 60_000));
        }

        Assert.Equal(4, dispatcher.AdmitWhatFits().Count);
        Assert.Empty(dispatcher.Preemptions);

        // The flood is still backlogged with two jobs, and the fair queue serves it first (the light tenant starts at
        // its counter and the flood's lane came first): the light job is the first in fair order that may make room.
        dispatcher.Queue.Enqueue(Job("light-1", "light", ttftObjectiveMs: 60_000));

        var admitted = dispatcher.AdmitWhatFits();

        Assert.Equal(["light-1"], admitted.Select(a => a.Job.JobId));
        var preempted = Assert.Single(dispatcher.Preemptions);
        Assert.Equal(("f3", "h", "light-1"), (preempted.Victim.JobId, preempted.Replica.ReplicaId, preempted.ForJobId));
        Assert.False(dispatcher.Replicas["h"].IsRunning("f3"));
        Assert.True(dispatcher.Replicas["h"].IsRunning("light-1"));
        Assert.Equal(4, dispatcher.Replicas["h"].RunningSequences);
        Assert.Equal(2, dispatcher.Queue.Count);
    }

    [Fact]
    public void AdmitWhatFits_StopsNothing_WhenPreemptionIsOffOrTheQueueHasNoShares()
    {
        foreach (var (fairness, max) in new[] { ("weighted-fair", 0), ("fifo", 2) })
        {
            var dispatcher = Dispatcher.Create("cost-aware", fairness, "continuous", maxPreemptions: max);
            dispatcher.Replicas["h"] = Replica("h", AcceleratorProfiles.H100, maxSequences: 4, kvCapacityTokens: 2_800);
            for (var i = 0; i < 4; i++)
            {
                dispatcher.Queue.Enqueue(Job($"f{i}", "flood", ttftObjectiveMs: 60_000));
            }

            Assert.Equal(4, dispatcher.AdmitWhatFits().Count);
            dispatcher.Queue.Enqueue(Job("light-1", "light", ttftObjectiveMs: 60_000));

            Assert.Empty(dispatcher.AdmitWhatFits());
            Assert.Empty(dispatcher.Preemptions);
            Assert.Equal(1, dispatcher.Queue.Count);
        }
    }
}
