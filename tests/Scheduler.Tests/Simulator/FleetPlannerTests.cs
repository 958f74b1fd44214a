using Scheduler.Simulator;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Planning;
using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator;

public sealed class FleetPlannerTests
{
    [Fact]
    public void Plan_LightLoad_PicksOneCheapL4OverDearerFleets()
    {
        // One short request every second: a single L4 meets every 550 ms objective (≈ 90 ms TTFT) at $0.805/h.
        var requests = Enumerable.Range(0, 30).Select(i => new SimRequest($"r{i}", "t", i * 1_000.0, 200, 20, TtftObjective.For(200))).ToList();
        var workload = new Workload("light", requests, new Dictionary<string, double> { ["t"] = 1 });
        var catalogue = SimulationTests.Fleet(("H100", 2, PricingMode.Hourly), ("L4", 2, PricingMode.Hourly));

        var plan = new FleetPlanner(workload, new PolicyChoice("cost-aware", "weighted-fair", "continuous"), seed: 1).Run(catalogue);

        Assert.True(plan.Catalogue.Meets);
        Assert.Equal("1×L4", plan.Cheapest!.Fleet.Summary());
        Assert.Equal(1.0, plan.Cheapest.Summary.Attainment);
        Assert.Equal(plan.WithMetered!.Fleet.Summary(), plan.WithoutMetered!.Fleet.Summary()); // no metered group: the same search
        Assert.Equal(["1×H100", "1×L4"], plan.SingleType.Select(c => c.Fleet.Summary()));
    }
}
