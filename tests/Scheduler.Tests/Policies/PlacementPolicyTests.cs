using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies;

public sealed class PlacementPolicyTests
{
    private readonly CostAwarePlacement _costAware = new();

    // A 500-token prompt generating 200 tokens, on empty replicas:
    //   TTFT  LPU ≈ 6 ms < H100 ≈ 19 ms < A100 ≈ 46 ms < L4 ≈ 141 ms
    //   cost  LPU ≈ $0.00004 < L4 ≈ $0.0025 < A100 ≈ $0.0037 < H100 ≈ $0.0074
    private static List<ReplicaView> GpuFleet() =>
        [Replica("h100", AcceleratorProfiles.H100), Replica("a100", AcceleratorProfiles.A100), Replica("l4", AcceleratorProfiles.L4)];

    [Fact]
    public void Predictions_OnEmptyReplicas_OrderAsExpected()
    {
        // Guards the numbers the tests below rely on.
        var job = Job("j");
        var fleet = GpuFleet();
        fleet.Add(Replica("lpu", AcceleratorProfiles.Lpu));
        var ttft = fleet.ToDictionary(r => r.ReplicaId, r => ReplicaPrediction.TtftMs(r, job));
        var cost = fleet.ToDictionary(r => r.ReplicaId, r => ReplicaPrediction.CostUsd(r, job));

        Assert.Equal(["lpu", "h100", "a100", "l4"], ttft.OrderBy(p => p.Value).Select(p => p.Key));
        Assert.Equal(["lpu", "l4", "a100", "h100"], cost.OrderBy(p => p.Value).Select(p => p.Key));
        Assert.Equal(10.6 + (500 * 1000.0 / 57_000), ttft["h100"], 1e-9);
        Assert.InRange(ttft["h100"], 15, 25);
        Assert.InRange(ttft["a100"], 40, 50);
        Assert.InRange(ttft["l4"], 130, 150);
        Assert.Equal(AcceleratorProfiles.Lpu.MeteredCostUsd(500, 200), cost["lpu"], 1e-15);
    }

    [Fact]
    public void PickReplica_PrefersCheapestThatMeetsTtft()
    {
        var chosen = _costAware.Choose(Job("j", ttftObjectiveMs: 1_000), GpuFleet());

        Assert.Equal("l4", chosen?.ReplicaId);
    }

    [Fact]
    public void PickReplica_SkipsCheaperReplicasThatMissTtft()
    {
        Assert.Equal("a100", _costAware.Choose(Job("j", ttftObjectiveMs: 100), GpuFleet())?.ReplicaId);
        Assert.Equal("h100", _costAware.Choose(Job("j", ttftObjectiveMs: 30), GpuFleet())?.ReplicaId);
    }

    [Fact]
    public void PickReplica_WhenNoneMeetsTtft_PicksFastest()
    {
        Assert.Equal("h100", _costAware.Choose(Job("j", ttftObjectiveMs: 1), GpuFleet())?.ReplicaId);
    }

    [Fact]
    public void PickReplica_ObjectiveExactlyMet_Counts()
    {
        var fleet = GpuFleet();
        var job = Job("j");
        var a100Ttft = ReplicaPrediction.TtftMs(fleet[1], job);

        Assert.Equal("a100", _costAware.Choose(job with { TtftObjectiveMs = a100Ttft }, fleet)?.ReplicaId);
    }

    [Fact]
    public void PickReplica_MeteredLpuThatMeetsTtft_BeatsHourlyGpus()
    {
        var fleet = GpuFleet();
        fleet.Add(Replica("lpu", AcceleratorProfiles.Lpu));

        Assert.Equal("lpu", _costAware.Choose(Job("j", ttftObjectiveMs: 1_000), fleet)?.ReplicaId);
    }

    [Fact]
    public void PickReplica_MeteredLpuBackedUpWithPrefill_FallsBackToCheapestGpuThatMeetsTtft()
    {
        var lpu = Replica("lpu", AcceleratorProfiles.Lpu);
        lpu.Admit(Job("backlog", prompt: 500_000, maxTokens: 10)); // 5 s of prefill ahead of anything new
        var fleet = GpuFleet();
        fleet.Add(lpu);
        var job = Job("j", ttftObjectiveMs: 1_000);
        Assert.True(ReplicaPrediction.TtftMs(lpu, job) > 1_000);

        Assert.Equal("l4", _costAware.Choose(job, fleet)?.ReplicaId);
    }

    [Fact]
    public void PickReplica_EqualPrices_PrefersEmptierWhenOnlyItMeetsTtft()
    {
        var empty = Replica("empty", AcceleratorProfiles.H100);
        var busy = Replica("busy", AcceleratorProfiles.H100);
        for (var i = 0; i < 8; i++)
        {
            busy.Admit(Job($"load{i}", prompt: 1_000, maxTokens: 100)); // 8,000 prompt tokens still prefilling
        }

        var job = Job("j", ttftObjectiveMs: 100);
        Assert.True(ReplicaPrediction.TtftMs(empty, job) <= 100);
        Assert.True(ReplicaPrediction.TtftMs(busy, job) > 100);

        Assert.Equal("empty", _costAware.Choose(job, [busy, empty])?.ReplicaId);
        Assert.Equal("empty", _costAware.Choose(job with { TtftObjectiveMs = 1 }, [busy, empty])?.ReplicaId);
    }

    [Fact]
    public void PickReplica_EqualPrices_JoinsRunningBatchWhenObjectiveAllows()
    {
        // Cost is the job's share of the accelerator's time at the replica's batch size (DESIGN.md), so
        // joining a running batch is cheaper than occupying an idle one: the policy packs when TTFT allows.
        var empty = Replica("empty", AcceleratorProfiles.H100);
        var busy = Replica("busy", AcceleratorProfiles.H100);
        AddDecodingLoad(busy, 8);
        var job = Job("j", ttftObjectiveMs: 1_000);
        Assert.True(ReplicaPrediction.CostUsd(busy, job) < ReplicaPrediction.CostUsd(empty, job));

        Assert.Equal("busy", _costAware.Choose(job, [empty, busy])?.ReplicaId);
    }

    [Fact]
    public void PickReplica_IdenticalReplicas_IsDeterministicFirstCandidate()
    {
        var fleet = new List<ReplicaView> { Replica("x", AcceleratorProfiles.A100), Replica("y", AcceleratorProfiles.A100) };

        Assert.Equal("x", _costAware.Choose(Job("j"), fleet)?.ReplicaId);
        fleet.Reverse();
        Assert.Equal("y", _costAware.Choose(Job("j"), fleet)?.ReplicaId);
    }

    [Fact]
    public void PickReplica_EqualCost_PrefersEarlierFirstToken()
    {
        // Metered replicas cost the same wherever the job runs: of those meeting the objective, the faster wins.
        var backedUp = Replica("backed-up", AcceleratorProfiles.Lpu);
        backedUp.Admit(Job("backlog", prompt: 20_000, maxTokens: 10));
        var idle = Replica("idle", AcceleratorProfiles.Lpu);
        var job = Job("j", ttftObjectiveMs: 1_000);
        Assert.Equal(ReplicaPrediction.CostUsd(backedUp, job), ReplicaPrediction.CostUsd(idle, job));
        Assert.True(ReplicaPrediction.TtftMs(backedUp, job) <= 1_000);

        Assert.Equal("idle", _costAware.Choose(job, [backedUp, idle])?.ReplicaId);
    }

    [Fact]
    public void PickReplica_NoCandidates_ReturnsNull()
    {
        Assert.Null(_costAware.Choose(Job("j"), []));
        Assert.Null(new RoundRobinPlacement().Choose(Job("j"), []));
    }

    [Fact]
    public void CostUsd_HourlyReplica_SharesTimeWithRunningBatch_MeteredDoesNot()
    {
        var job = Job("j");
        var h100 = Replica("h100", AcceleratorProfiles.H100);
        var expectedSeconds = (ReplicaPrediction.TtftMs(h100, job) + (job.MaxTokens * ReplicaPrediction.TimePerOutputTokenMs(h100))) / 1000.0;
        Assert.Equal(AcceleratorProfiles.H100.HourlyCostUsd(expectedSeconds), ReplicaPrediction.CostUsd(h100, job), 1e-12);

        AddDecodingLoad(h100, 3);
        var sharedSeconds = (ReplicaPrediction.TtftMs(h100, job) + (job.MaxTokens * ReplicaPrediction.TimePerOutputTokenMs(h100))) / 1000.0;
        Assert.Equal(AcceleratorProfiles.H100.HourlyCostUsd(sharedSeconds) / 4, ReplicaPrediction.CostUsd(h100, job), 1e-12);

        var lpu = Replica("lpu", AcceleratorProfiles.Lpu);
        var alone = ReplicaPrediction.CostUsd(lpu, job);
        AddDecodingLoad(lpu, 5);
        Assert.Equal(alone, ReplicaPrediction.CostUsd(lpu, job));
    }

    [Fact]
    public void TtftMs_GrowsWithPendingPrefillAndBatchSize()
    {
        var job = Job("j");
        var replica = Replica("r", AcceleratorProfiles.A100);
        var idle = ReplicaPrediction.TtftMs(replica, job);

        AddDecodingLoad(replica, 16);
        var decoding = ReplicaPrediction.TtftMs(replica, job);
        replica.Admit(Job("prefilling", prompt: 4_000, maxTokens: 10));
        var prefilling = ReplicaPrediction.TtftMs(replica, job);

        Assert.True(idle < decoding, $"{idle} < {decoding}");
        Assert.True(decoding < prefilling, $"{decoding} < {prefilling}");
    }

    [Fact]
    public void RoundRobin_CyclesThroughCandidates()
    {
        var policy = new RoundRobinPlacement();
        var fleet = new List<ReplicaView>
        {
            Replica("a", AcceleratorProfiles.H100), Replica("b", AcceleratorProfiles.L4), Replica("c", AcceleratorProfiles.Lpu),
        };

        var picks = Enumerable.Range(0, 7).Select(i => policy.Choose(Job($"j{i}"), fleet)!.ReplicaId).ToArray();

        Assert.Equal(["a", "b", "c", "a", "b", "c", "a"], picks);
    }

    [Fact]
    public void RoundRobin_IgnoresCostAndLoad()
    {
        var policy = new RoundRobinPlacement();
        var busyExpensive = Replica("busy", AcceleratorProfiles.H100);
        AddDecodingLoad(busyExpensive, 10);
        var fleet = new List<ReplicaView> { busyExpensive, Replica("cheap", AcceleratorProfiles.Lpu) };

        Assert.Equal("busy", policy.Choose(Job("1"), fleet)?.ReplicaId);
        Assert.Equal("cheap", policy.Choose(Job("2"), fleet)?.ReplicaId);
        Assert.Equal("busy", policy.Choose(Job("3"), fleet)?.ReplicaId);
    }
}
