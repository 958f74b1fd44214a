using Scheduler.Simulator;
using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Fleet;

namespace Scheduler.Tests.Simulator.Engine;

public sealed class HourlyPoolTests
{
    [Fact]
    public void Of_OneGroupPerProduct_IsNamedByTheProduct_AndAlikeGroupsShareOnePool()
    {
        var pools = PoolsOf(
            new NodeSpec("H100", 1, PricingMode.Hourly), new NodeSpec("L4", 2, PricingMode.Hourly), new NodeSpec("H100", 1, PricingMode.Hourly),
            new NodeSpec("LPU", 1, PricingMode.Metered));

        Assert.Equal(["H100", "L4"], pools.Select(p => p.Name));
        Assert.Equal([0, 3], pools[0].Members);
    }

    [Fact]
    public void Of_GroupsOfOneProductAtOnePrice_AreNamedByWhatTellsThemApart()
    {
        var pools = PoolsOf(
            new NodeSpec("L4", 1, PricingMode.Hourly, KvCapacityTokens: 20_000), new NodeSpec("L4", 1, PricingMode.Hourly),
            new NodeSpec("L4", 1, PricingMode.Hourly, PricePerHourUsd: 0.5));

        Assert.Equal(["L4 at $0.805/h, 20,000 KV tokens", "L4 at $0.805/h, 60,000 KV tokens", "L4 at $0.5/h"], pools.Select(p => p.Name));
    }

    private static IReadOnlyList<HourlyPool> PoolsOf(params NodeSpec[] groups)
    {
        var workload = AutoscaleTests.StepWorkload(busyUntilSeconds: 1, busyPerSecond: 1, quietUntilSeconds: 1, quietPerSecond: 0);
        var policies = new PolicyChoice("cost-aware", "weighted-fair", "continuous");
        return HourlyPool.Of(new Simulation(new FleetSpec("pools", null, groups), workload, policies, seed: 1).Run().Replicas);
    }
}
