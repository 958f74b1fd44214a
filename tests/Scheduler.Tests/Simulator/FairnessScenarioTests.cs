using Scheduler.Simulator;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;
using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator;

public sealed class FairnessScenarioTests
{
    // Small requests on a small fleet, flooded well past its capacity, so both tenants stay backlogged.
    private static readonly FleetSpec s_fleet = SimulationTests.Fleet(("A100", 1, PricingMode.Hourly), ("L4", 2, PricingMode.Hourly));
    private static readonly List<TraceRow> s_sizes = [new(0, 400, 30), new(0, 1_200, 80), new(0, 200, 10)];

    [Fact]
    public void Flood_WeightedFair_KeepsServiceGapWithinVtcBound_AndTheLightTenantFast()
    {
        var workload = FloodWorkload.Create(s_sizes, lightRate: 10, floodMultiplier: 10, durationSeconds: 20, withFlood: true, seed: 11);

        var fair = new Simulation(s_fleet, workload, new PolicyChoice("least-outstanding", "weighted-fair", "continuous"), seed: 1).Run();
        var fifo = new Simulation(s_fleet, workload, new PolicyChoice("least-outstanding", "fifo", "continuous"), seed: 1).Run();

        Assert.True(fair.Fairness.MaxServiceGap > 0, "the scenario must produce contention");
        Assert.InRange(fair.Fairness.MaxServiceGap, 0, fair.Fairness.VtcBound);
        Assert.True(fifo.Fairness.MaxServiceGap > fifo.Fairness.VtcBound, $"FIFO gap {fifo.Fairness.MaxServiceGap}");
        Assert.True(LightP99(fair) * 5 < LightP99(fifo), $"light p99: fair {LightP99(fair)} ms, fifo {LightP99(fifo)} ms");
        Assert.True(fair.Fairness.JainIndex > fifo.Fairness.JainIndex, $"Jain: fair {fair.Fairness.JainIndex}, fifo {fifo.Fairness.JainIndex}");
    }

    private static double LightP99(RunResult run) =>
        Percentiles.Of(Percentiles.Sorted(run.Finished.Where(s => s.Request.TenantId == FloodWorkload.Light).Select(s => s.TtftMs)), 99);
}
