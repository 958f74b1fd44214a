using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;
using Scheduler.Simulator.Workload;

namespace Scheduler.Simulator.Scenarios;

/// <summary>The light tenant's p99 TTFT with a flooding tenant (10× its rate) ÷ the same arrivals alone, per fairness policy.</summary>
internal static class FloodScenario
{
    public sealed record Settings(double LightRate, double FloodMultiplier, double DurationSeconds, int Seed);

    /// <summary>One policy choice's figures; <paramref name="Alone"/> and <paramref name="Flooded"/> carry each run's refused
    /// and failed requests, which the light tenant's figures (over served requests) leave out.</summary>
    public sealed record Outcome(PolicyChoice Policies, double LightP99AloneMs, double LightP99FloodedMs, double LightAttainmentAlone, double LightAttainmentFlooded, RunSummary Alone, RunSummary Flooded)
    {
        public double Ratio => LightP99FloodedMs / LightP99AloneMs;

        /// <summary>Requests of either run refused or failed.</summary>
        public int Unserved => Alone.Refused + Alone.Failed + Flooded.Refused + Flooded.Failed;

        /// <summary>Whether the light tenant had a request served in both runs, so its p99s and ratio are figures.</summary>
        public bool LightServed => !double.IsNaN(LightP99AloneMs) && !double.IsNaN(LightP99FloodedMs);

        /// <summary>Each run's refused and failed requests, e.g. "refused / failed: alone 0 / 2, flooded 0 / 9".</summary>
        public string UnservedText => $"refused / failed: alone {Alone.Refused} / {Alone.Failed}, flooded {Flooded.Refused} / {Flooded.Failed}";
    }

    public static IReadOnlyList<Outcome> Run(FleetSpec fleet, IReadOnlyList<TraceRow> sizes, Settings settings, IEnumerable<PolicyChoice> choices)
    {
        var alone = FloodWorkload.Create(sizes, settings.LightRate, settings.FloodMultiplier, settings.DurationSeconds, withFlood: false, settings.Seed);
        var flooded = FloodWorkload.Create(sizes, settings.LightRate, settings.FloodMultiplier, settings.DurationSeconds, withFlood: true, settings.Seed);
        return choices.AsParallel().AsOrdered().Select(choice =>
        {
            var aloneRun = new Simulation(fleet, alone, choice, settings.Seed).Run();
            var floodRun = new Simulation(fleet, flooded, choice, settings.Seed).Run();
            return new Outcome(choice, LightP99(aloneRun), LightP99(floodRun), LightAttainment(aloneRun), LightAttainment(floodRun), aloneRun.Summarize(), floodRun.Summarize());
        }).ToList();
    }

    private static double LightAttainment(RunResult run)
    {
        var light = run.Finished.Where(s => s.Request.TenantId == FloodWorkload.Light).ToList();
        return light.Count(s => s.MetObjective) / (double)light.Count;
    }

    private static double LightP99(RunResult run) =>
        Percentiles.Of(Percentiles.Sorted(run.Finished.Where(s => s.Request.TenantId == FloodWorkload.Light).Select(s => s.TtftMs)), 99);
}
