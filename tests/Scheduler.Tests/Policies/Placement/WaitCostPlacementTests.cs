using Scheduler.Policies;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using static Scheduler.Tests.Policies.PolicyFixtures;

namespace Scheduler.Tests.Policies.Placement;

/// <summary>Cost-aware placement prices a job's wait for its first token (<see cref="PlacementSettings.WaitCostUsdPerSecond"/>):
/// the batch share alone makes a packed replica's seat cheap however long its queue.</summary>
public sealed class WaitCostPlacementTests
{
    private static readonly CostAwarePlacement Unpriced = new(new PlacementSettings { WaitCostUsdPerSecond = 0 });
    private static readonly CostAwarePlacement Default = new();

    // Two L4s: "packed" decodes 13 sequences and has a 12,000-token prompt waiting for prefill; "idle" runs nothing.
    private static (ReplicaView Packed, ReplicaView Idle) L4s()
    {
        var packed = Replica("packed", AcceleratorProfiles.L4);
        AddDecodingLoad(packed, 13);
        packed.Admit(Job("queued", prompt: 12_000, maxTokens: 100));
        return (packed, Replica("idle", AcceleratorProfiles.L4));
    }

    private static JobDemand Chat() => Job("chat", prompt: 500, maxTokens: 200, ttftObjectiveMs: 10_000);

    private static double PricedCost(ReplicaView replica, JobDemand job) =>
        ReplicaPrediction.CostUsd(replica, job) + (PlacementSettings.DefaultWaitCostUsdPerSecond * ReplicaPrediction.TtftMs(replica, job) / 1000);

    [Fact]
    public void Predictions_ThePackedSeatIsCheaper_ItsWaitDearer()
    {
        // Guards the numbers the tests below rely on.
        var (packed, idle) = L4s();
        var job = Chat();

        Assert.True(ReplicaPrediction.TtftMs(packed, job) <= job.TtftObjectiveMs);
        Assert.True(ReplicaPrediction.TtftMs(packed, job) - ReplicaPrediction.TtftMs(idle, job) > 2_000);
        Assert.True(ReplicaPrediction.CostUsd(packed, job) < ReplicaPrediction.CostUsd(idle, job));
        Assert.True(PricedCost(packed, job) > PricedCost(idle, job));
    }

    [Fact]
    public void PickReplica_WaitUnpriced_TakesThePackedReplicasCheaperSeatDespiteItsQueue()
    {
        var (packed, idle) = L4s();

        Assert.Equal("packed", Unpriced.Choose(Chat(), [packed, idle])?.ReplicaId);
        Assert.Equal("packed", Unpriced.Choose(Chat(), new ReplicaSet { ["packed"] = packed, ["idle"] = idle })?.ReplicaId);
    }

    [Fact]
    public void PickReplica_WaitPriced_TakesTheIdleReplicaWhenTheWaitItSparesIsWorthMoreThanTheSeat()
    {
        var (packed, idle) = L4s();

        Assert.Equal("idle", Default.Choose(Chat(), [packed, idle])?.ReplicaId);
        Assert.Equal("idle", Default.Choose(Chat(), new ReplicaSet { ["packed"] = packed, ["idle"] = idle })?.ReplicaId);
    }

    [Fact]
    public void PickReplica_WaitPriced_StillJoinsARunningBatchWhoseNextStepIsNear()
    {
        // Without a queue the packed replica's first token is one decode step later: too little waiting to outweigh its
        // cheaper seat.
        var busy = Replica("busy", AcceleratorProfiles.L4);
        AddDecodingLoad(busy, 13);
        var idle = Replica("idle", AcceleratorProfiles.L4);

        Assert.True(PricedCost(busy, Chat()) < PricedCost(idle, Chat()));
        Assert.Equal("busy", Default.Choose(Chat(), [idle, busy])?.ReplicaId);
    }

    [Fact]
    public void Weighed_TheCostCompared_IncludesTheWaitAtItsPrice()
    {
        var (packed, idle) = L4s();
        var weighed = new List<WeighedReplica>();

        Default.Choose(Chat(), new ReplicaSet { ["packed"] = packed, ["idle"] = idle }, weighed);

        Assert.Equal(PricedCost(packed, Chat()), weighed.Single(w => w.Replica == packed).PredictedCostUsd, 1e-15);
        Assert.Equal(PricedCost(idle, Chat()), weighed.Single(w => w.Replica == idle).PredictedCostUsd, 1e-15);
    }

    [Fact]
    public void CreatePlacement_GivesCostAwareTheConfiguredPrice()
    {
        var placement = SchedulingPolicies.CreatePlacement(CostAwarePlacement.PolicyName, settings: new PlacementSettings { WaitCostUsdPerSecond = 0.004 });

        Assert.Equal(0.004, Assert.IsType<CostAwarePlacement>(placement).WaitCostUsdPerSecond);
        Assert.Equal(PlacementSettings.DefaultWaitCostUsdPerSecond, Assert.IsType<CostAwarePlacement>(SchedulingPolicies.CreatePlacement("cost-aware")).WaitCostUsdPerSecond);
    }

    [Theory]
    [InlineData(-0.001)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void PlacementSettings_APriceOutOfRange_IsRefusedNamingIt(double price)
    {
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => new PlacementSettings { WaitCostUsdPerSecond = price });

        Assert.Equal(nameof(PlacementSettings.WaitCostUsdPerSecond), refused.ParamName);
    }
}
