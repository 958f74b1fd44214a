using System.Text;
using Scheduler.Policies.Placement;
using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;
using Scheduler.Simulator.Planning;
using Scheduler.Simulator.Reports;

namespace Scheduler.Simulator.Scenarios;

/// <summary>
/// Capacity that follows demand, against the DESIGN target: per trace, the provisioned cost per million tokens of
/// (1) the static fleet, (2) the fleet planner's cheapest static mix from the catalogue that meets 99% attainment,
/// and (3) the catalogue's hourly groups as pools scaled by the shared capacity policy, all with the default policies.
/// </summary>
internal static class AutoscaleScenario
{
    /// <summary>The DESIGN target: autoscaled cost per Mtok as provisioned at least this much below the best static.</summary>
    public const double TargetSaving = 0.30;

    /// <summary>One trace's three runs.</summary>
    /// <param name="Trace">The trace and its rate.</param>
    /// <param name="Static">The static fleet, paid for throughout.</param>
    /// <param name="BestStatic">The planner's cheapest static mix that meets 99% attainment; null when none does.</param>
    /// <param name="Autoscaled">The catalogue's hourly groups as autoscaled pools.</param>
    /// <param name="MeanReplicas">The autoscaled run's mean replicas paid for per hourly pool over its makespan.</param>
    public sealed record Outcome(TraceScenario Trace, RunSummary Static, FleetPlanner.Candidate? BestStatic, RunSummary Autoscaled, IReadOnlyDictionary<string, double> MeanReplicas)
    {
        /// <summary>1 − autoscaled ÷ best static, per Mtok as provisioned; NaN without a best static fleet.</summary>
        public double Saving => BestStatic is null ? double.NaN : 1 - (Autoscaled.ProvisionedCostPerMillionTokens / BestStatic.Summary.ProvisionedCostPerMillionTokens);

        public bool MeetsTarget => Saving >= TargetSaving && Autoscaled.Attainment >= FleetPlanner.RequiredAttainment;
    }

    /// <summary>Runs each trace three ways with the default policies, a second of waiting priced at
    /// <paramref name="waitCostUsdPerSecond"/>; the planner's simulations are told to <paramref name="progress"/>.</summary>
    public static IReadOnlyList<Outcome> Run(
        FleetSpec fleet, FleetSpec catalogue, string tracesFolder, IReadOnlyList<TraceScenario> traces, int seed, AutoscaleSettings autoscale,
        double waitCostUsdPerSecond = PlacementSettings.DefaultWaitCostUsdPerSecond, Action<string>? progress = null) =>
        [.. traces.Select(trace =>
        {
            var workload = trace.Load(tracesFolder);
            var choice = PolicyMatrix.Default with { WaitCostUsdPerSecond = waitCostUsdPerSecond };
            var fixedFleet = new Simulation(fleet, workload, choice, seed).Run().Summarize();
            var plan = new FleetPlanner(workload, choice, seed, progress).Run(catalogue);
            var scaledRun = new Simulation(catalogue, workload, choice, seed, autoscale).Run();
            var scaled = scaledRun.Summarize();
            return new Outcome(trace, fixedFleet, plan.Cheapest, scaled, MeanReplicas(scaledRun));
        })];

    // Replica-seconds paid for per hourly pool over the makespan: how big each pool was on average. A run that served
    // nothing has no makespan: NaN (a dash), not the replicas it paid for divided by the 1e-9 s floor (it printed
    // "mean 130000000000.0×H100").
    private static Dictionary<string, double> MeanReplicas(RunResult run)
    {
        var start = run.Finished.Count == 0 ? 0 : run.Finished.Min(s => s.Request.ArrivalMs);
        var end = run.Finished.Count == 0 ? 0 : run.Finished.Max(s => s.FinishedMs);
        var seconds = Math.Max(1e-9, (end - start) / 1000);
        return HourlyPool.Of(run.Replicas).ToDictionary(
            p => p.Name, p => run.Finished.Count == 0 ? double.NaN : p.Members.Sum(i => run.Replicas[i].ProvisionedSeconds(start, end)) / seconds, StringComparer.Ordinal);
    }

    public static string Markdown(FleetSpec fleet, FleetSpec catalogue, AutoscaleSettings autoscale, IReadOnlyList<Outcome> outcomes)
    {
        var text = new StringBuilder()
            .AppendLine($"Autoscaled pools: the hourly groups of `{catalogue.Name}` ({catalogue.Summary()}), cold start {autoscale.ColdStart.TotalSeconds:0} s, " +
                $"released after {autoscale.ScaleDownAfter.TotalSeconds:0} s of surplus, a decision every {autoscale.ControlInterval.TotalSeconds:0} s over the last {autoscale.Window.TotalSeconds:0} s, " +
                $"prefill sized to serve the last {autoscale.PeakLookback.TotalSeconds:0} s's bursts within their TTFT objectives.")
            .AppendLine()
            .AppendLine("| trace | fleet | $/Mtok provisioned | $/Mtok used | TTFT attainment | refused / failed | makespan s |")
            .AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var o in outcomes)
        {
            Row(o.Trace, $"static `{fleet.Name}`: {fleet.Summary()}", o.Static);
            if (o.BestStatic is { } best)
            {
                Row(o.Trace, $"planner's best static: {best.Fleet.Summary()}", best.Summary);
            }

            Row(o.Trace, o.MeanReplicas.Count == 0 ? "autoscaled (no hourly pool to scale)" : $"autoscaled (mean {string.Join(" + ", o.MeanReplicas.Select(p => $"{Format.Num(p.Value, "0.0")}×{p.Key}"))})", o.Autoscaled);
        }

        text.AppendLine();
        foreach (var o in outcomes)
        {
            text.AppendLine($"- `{o.Trace.Name}`: autoscaled {Format.Usd(o.Autoscaled.ProvisionedCostPerMillionTokens)} $/Mtok at {Format.Pct(o.Autoscaled.Attainment)}; " +
                (o.BestStatic is null ? "no static mix from the catalogue meets 99%" : $"{Format.Pct(Math.Abs(o.Saving))} {(o.Saving >= 0 ? "below" : "above")} the best static mix") +
                $" — target (≥ {Format.Pct(TargetSaving)} below at ≥ 99%) {(o.MeetsTarget ? "met" : "not met")}.");
        }

        return text.ToString();

        void Row(TraceScenario trace, string name, RunSummary s) =>
            text.AppendLine($"| {trace.Name} at {trace.RateFactor}× | {name} | {Format.Usd(s.ProvisionedCostPerMillionTokens)} | {Format.Usd(s.CostPerMillionTokens)} | " +
                $"{Format.Pct(s.Attainment)} | {s.Refused} / {s.Failed} | {Format.Num(s.MakespanSeconds, "#,0")} |");
    }
}
