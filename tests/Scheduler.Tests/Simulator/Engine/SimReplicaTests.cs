using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Prefix;
using Scheduler.Policies.Profiles;
using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Workload;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Simulator.Engine;

public sealed class SimReplicaTests
{
    private const int Precision = 9;

    [Fact]
    public void ProvisionedSeconds_StaticReplica_IsPaidForTheWholeSpan()
    {
        Assert.Equal(600, Replica().ProvisionedSeconds(0, 600_000), Precision);
    }

    [Fact]
    public void ProvisionedSeconds_PaysTheColdStart_AndTheDrainUntilReleased()
    {
        var replica = Replica();
        replica.Unprovision();
        Assert.Equal(0, replica.ProvisionedSeconds(0, 600_000), Precision);

        // Asked for at 100 s with a 120 s cold start: paid from 100 s, though it takes work only from 220 s.
        replica.Provision(100_000, 220_000);
        Assert.False(replica.ReadyAt(200_000));
        Assert.True(replica.ReadyAt(220_000));
        Assert.Equal(100, replica.ProvisionedSeconds(0, 200_000), Precision);

        // Told to drain at 400 s and released once empty at 450 s: paid until the release, not until it was told.
        replica.Draining = true;
        Assert.False(replica.ReadyAt(400_000));
        Assert.Equal(300, replica.ProvisionedSeconds(0, 400_000), Precision);
        replica.Release(450_000);
        Assert.False(replica.Provisioned);
        Assert.Equal(350, replica.ProvisionedSeconds(0, 600_000), Precision);
    }

    [Fact]
    public void ProvisionedSeconds_AskedForAfterTheSpanEnds_CountsNothingRatherThanANegativeTime()
    {
        var replica = Replica();
        replica.Unprovision();
        replica.Provision(700_000, 820_000);

        Assert.Equal(0, replica.ProvisionedSeconds(0, 600_000), Precision);
    }

    [Theory]
    [InlineData(true, 0, 1)]
    [InlineData(false, 1, 0)]
    public void EndStep_TellsTheViewWhatItsCacheEvicted_UnlessEventsAreOff(bool events, int blocksHeld, long forgotten)
    {
        // The engine keeps half the 4,000 tokens the view models. A 3-block prompt (1,536 tokens) is cached in both once
        // its job is done; a job reserving 3,000 then leaves the engine's cache 500 tokens (all three blocks go) and the
        // view's index 1,000 (its first block stays), until the step report says what the engine evicted.
        var profile = AcceleratorProfiles.A100 with { KvCapacityTokens = 4_000 };
        var view = new ReplicaView("a", "n", "acc", profile, 8, 4_000);
        var replica = new SimReplica(view, new EngineCacheModel(Share: 0.5, Events: events));
        var blocks = PromptBlocks.FromBlockIds([1, 2, 3])!;
        var now = 0.0;
        var finished = new List<SimSequence>();
        void Run(SimRequest request)
        {
            var demand = new JobDemand(request.Id, "t", request.PromptTokens, request.OutputTokens, JobPriority.Standard, 10_000, DateTimeOffset.UnixEpoch, Blocks: request.Blocks);
            view.Admit(demand);
            Assert.True(replica.Admit(new SimSequence(request, demand), now));
            now += replica.StartStep(now);
            replica.EndStep(now, finished);
        }

        Run(new SimRequest("cached", "t", 0, 1_600, 1, 10_000, blocks));
        Assert.Equal(3, replica.CachedBlocks(blocks));
        Assert.Equal(1_536, view.CachedPromptTokens(Job("probe", prompt: 1_600) with { Blocks = blocks }));

        Run(new SimRequest("big", "t", 0, 2_000, 1_000, 10_000));

        Assert.Equal(0, replica.CachedBlocks(blocks));
        Assert.Equal(blocksHeld, view.CachedBlocks);
        Assert.Equal(forgotten, view.PrefixBlocksForgotten);
    }

    [Fact]
    public void Admit_ALightPromptDuringAFloodStep_EndsTheStepAfterTheMicroBatchUnderWay_AndItsPrefillGoesFirst()
    {
        // An L4 prefilling a flood prompt ranked 5 in micro-batches of 256: a light prompt ranked 1 admitted 1 ms into the
        // step ends it after the first (256 tokens ran, the flood's rest waits), and the next step prefills it first.
        var profile = AcceleratorProfiles.L4;
        var view = new ReplicaView("a", "n", "acc", profile, 8, profile.KvCapacityTokens);
        var replica = new SimReplica(view, EngineCacheModel.Default, microBatchTokens: 256);
        var finished = new List<SimSequence>();
        SimSequence Admit(string id, int prompt, double rank, double nowMs)
        {
            var demand = new JobDemand(id, "t", prompt, 2, JobPriority.Standard, 10_000, DateTimeOffset.UnixEpoch);
            view.Admit(demand);
            var sequence = new SimSequence(new SimRequest(id, "t", nowMs, prompt, 2, 10_000), demand) { FairRank = rank };
            Assert.True(replica.Admit(sequence, nowMs));
            return sequence;
        }

        var flood = Admit("flood", 10_000, 5, 0);
        var full = replica.StartStep(0);
        var light = Admit("light", 100, 1, 1);
        var firstEnd = replica.StepEndMs;
        replica.EndStep(firstEnd, finished);
        var busyAfterFirst = replica.BusyMs;
        var second = replica.StartStep(firstEnd);
        replica.EndStep(firstEnd + second, finished);

        Assert.Equal(profile.StepMs(0, 1_024), full);
        Assert.Equal(profile.StepMs(0, 256), firstEnd);
        Assert.Equal(profile.StepMs(0, 256), busyAfterFirst);
        Assert.Equal(profile.StepMs(0, 1_024), second);
        Assert.Equal(firstEnd + second, light.FirstTokenMs);
        Assert.Equal(10_000 - 256 - 924, flood.PrefillRemaining);
    }

    [Fact]
    public void Preempt_OnAMeteredEndpoint_BillsEachSendAsSent_TheResumedPromptCarryingTheTokensDeliveredBefore()
    {
        // A 1,000-token prompt asking for 10 tokens on the LPU ($0.05 / $0.08 per million in / out), stopped after 4 and
        // resumed: the endpoint was sent 1,000 tokens and generated 4, then sent the 1,004 the sequence then was (its
        // prompt and the tokens delivered) and generated the 6 still owed. The finish billed 1,000 in and 10 out
        // again, charging the 4 resent tokens at the output price.
        var profile = AcceleratorProfiles.Lpu;
        var view = new ReplicaView("lpu", "n", "acc", profile, 16, profile.KvCapacityTokens);
        var replica = new SimReplica(view, EngineCacheModel.Default);
        var finished = new List<SimSequence>();
        var demand = new JobDemand("a", "t", 1_000, 10, JobPriority.Standard, 10_000, DateTimeOffset.UnixEpoch);
        var sequence = new SimSequence(new SimRequest("a", "t", 0, 1_000, 10, 10_000), demand);
        var now = 0.0;
        void Step()
        {
            now += replica.StartStep(now);
            replica.EndStep(now, finished);
        }

        view.Admit(demand);
        Assert.True(replica.Admit(sequence, now));
        while (sequence.Generated < 4)
        {
            Step();
        }

        Assert.Same(sequence, replica.Preempt("a", now));
        view.Release("a");
        sequence.Resume();
        view.Admit(sequence.Demand);
        Assert.True(replica.Admit(sequence, now));
        while (finished.Count == 0)
        {
            Step();
        }

        Assert.Equal(10, sequence.Generated);
        Assert.Equal(profile.MeteredCostUsd(1_000, 4) + profile.MeteredCostUsd(1_004, 6), replica.MeteredCostUsd, 15);
    }

    [Fact]
    public void Admit_APromptRankedBehindTheStepsPrefill_LeavesTheStepWhole()
    {
        var profile = AcceleratorProfiles.L4;
        var view = new ReplicaView("a", "n", "acc", profile, 8, profile.KvCapacityTokens);
        var replica = new SimReplica(view, EngineCacheModel.Default, microBatchTokens: 256);
        foreach (var (id, rank) in new[] { ("flood", 5.0), ("later", 7.0) })
        {
            var demand = new JobDemand(id, "t", 10_000, 2, JobPriority.Standard, 10_000, DateTimeOffset.UnixEpoch);
            view.Admit(demand);
            Assert.True(replica.Admit(new SimSequence(new SimRequest(id, "t", 0, 10_000, 2, 10_000), demand) { FairRank = rank }, id == "flood" ? 0 : 1));
            if (id == "flood")
            {
                replica.StartStep(0);
            }
        }

        Assert.Equal(profile.StepMs(0, 1_024), replica.StepEndMs);
    }

    private static SimReplica Replica()
    {
        var profile = AcceleratorProfiles.L4;
        return new SimReplica(new ReplicaView("L4-0", "node-L4-0", "acc-L4-0", profile, profile.MaxSequences, profile.KvCapacityTokens), EngineCacheModel.Default);
    }
}
