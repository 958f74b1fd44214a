using System.Text;
using Scheduler.Simulator.Cli;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;
using Scheduler.Simulator.Planning;
using Scheduler.Simulator.Reports;
using Scheduler.Simulator.Workload;

namespace Scheduler.Simulator.Scenarios;

/// <summary>
/// The one command behind docs/benchmarks.md: the policy matrix on both traces, the saturation burst (continuous vs
/// request-level), the flood scenario (fairness), and fleet planning; writes results.md, results.csv and PNG plots.
/// </summary>
/// <param name="fleet">The fleet of the policy matrix, burst and flood.</param>
/// <param name="gpuFleet">The GPU-only fleet of the placement-alone comparison.</param>
/// <param name="catalogue">The fleet planner's catalogue.</param>
/// <param name="settings">The rates, burst, flood, seed and wait price.</param>
/// <param name="progress">Told of each of the fleet planner's simulations (stderr: a large catalogue takes long).</param>
internal sealed class MatrixCommand(FleetSpec fleet, FleetSpec gpuFleet, FleetSpec catalogue, BenchmarkSettings settings, Action<string>? progress = null)
{
    private readonly StringBuilder _report = new();
    private readonly List<RunSummary> _all = [];

    /// <summary>Runs everything and writes the results into the output folder, which the caller has made.</summary>
    public void Run(string commandLine)
    {
        _report.AppendLine("# Simulator results").AppendLine()
            .AppendLine($"Command: `{commandLine}`").AppendLine()
            .AppendLine($"Fleet `{fleet.Name}`: {fleet.Heading()}").AppendLine()
            .AppendLine($"Tenants: {TenantAssignment.Tenants}, Zipf(1) split, seed {TenantAssignment.DefaultSeed}, all weight 1. " +
                $"TTFT objective per request: {TtftObjective.BaseMs} ms + {TtftObjective.PerPromptTokenMs} ms × prompt tokens. Policy seed {settings.Seed}.").AppendLine();

        var defaults = new Dictionary<string, (RunSummary Default, RunSummary? BestBaseline, RunSummary MostAttaining)>();
        var cdfs = new List<(string Trace, IReadOnlyList<(string, double[])> Series)>();
        foreach (var trace in settings.Traces)
        {
            var workload = trace.Load(settings.TracesFolder);
            var choices = settings.Choices();
            var runs = PolicyMatrix.Run(fleet, workload, choices, settings.Seed);
            var summaries = runs.Select(r => r.Summarize()).ToList();
            _all.AddRange(summaries);
            _report.AppendLine($"## Trace `{trace.Name}` at {trace.RateFactor}× its arrival rate ({workload.Requests.Count:#,0} requests)").AppendLine()
                .Append(MatrixTable.Markdown(summaries)).AppendLine();
            defaults[trace.Name] = CostComparison(summaries);
            cdfs.Add((trace.Name, runs.Where(r => r.Policies.Batching == "continuous" && r.Policies.Fairness == "weighted-fair")
                .Select(r => (r.Policies.Placement, Percentiles.Sorted(r.Finished.Select(s => s.TtftMs)))).ToList()));
        }

        var gpuOnly = GpuOnly();
        var burst = Burst();
        var flood = Flood();
        WriteTargets(defaults, gpuOnly, burst, flood);
        Plan();
        OutputWriteException.Around(settings.OutputFolder, () =>
        {
            WritePlots(cdfs, burst, flood);
            File.WriteAllText(Path.Combine(settings.OutputFolder, "results.md"), _report.ToString());
            File.WriteAllText(Path.Combine(settings.OutputFolder, "results.csv"), MatrixTable.Csv(_all));
        });
    }

    /// <summary>The default policies against the cheapest baseline placement that reaches 99% attainment (same
    /// batching and fairness), or, when none does, the baseline with the highest attainment.</summary>
    private (RunSummary, RunSummary?, RunSummary) CostComparison(List<RunSummary> summaries)
    {
        var comparable = summaries.Where(s => s.Policies.Batching == settings.Default.Batching && s.Policies.Fairness == settings.Default.Fairness).ToList();
        var mine = comparable.Single(s => s.Policies == settings.Default);
        var baselines = comparable.Where(s => s != mine).ToList();
        var best = baselines.Where(s => s.Attainment >= FleetPlanner.RequiredAttainment).OrderBy(s => s.CostPerMillionTokens).FirstOrDefault();
        return (mine, best, baselines.OrderByDescending(s => s.Attainment).First());
    }

    /// <summary>Placement alone on a GPU-only fleet (continuous, weighted-fair): no metered shortcut.</summary>
    private Dictionary<string, (RunSummary Default, RunSummary? BestBaseline, RunSummary MostAttaining)> GpuOnly()
    {
        var comparisons = new Dictionary<string, (RunSummary, RunSummary?, RunSummary)>();
        var choices = PolicyMatrix.Placements.Select(p => settings.Default with { Placement = p }).ToList();
        foreach (var trace in settings.Traces)
        {
            var runs = PolicyMatrix.Run(gpuFleet, trace.Load(settings.TracesFolder), choices, settings.Seed).Select(r => r.Summarize()).ToList();
            _all.AddRange(runs.Select(r => r with { Workload = r.Workload + "-gpu-only" }));
            _report.AppendLine($"## Trace `{trace.Name}` at {trace.RateFactor}×, GPU-only fleet `{gpuFleet.Name}` ({gpuFleet.Summary()})").AppendLine()
                .Append(MatrixTable.Markdown(runs)).AppendLine();
            comparisons[trace.Name] = CostComparison(runs);
        }

        return comparisons;
    }

    private List<RunSummary> Burst()
    {
        var runs = new List<RunSummary>();
        foreach (var trace in settings.Traces)
        {
            var rows = TraceReader.Read(Path.Combine(settings.TracesFolder, trace.FileName), option: SimulatorOptions.Traces.Name).Rows.Take(settings.BurstRequests).ToList();
            var workload = TenantAssignment.FromTrace(trace.Name + "-burst", rows, settings.BurstRateFactor);
            var choices = PolicyMatrix.Batchings.SelectMany(b => PolicyMatrix.Placements.Select(p => settings.Default with { Placement = p, Batching = b })).ToList();
            runs.AddRange(PolicyMatrix.Run(fleet, workload, choices, settings.Seed).Select(r => r.Summarize()));
        }

        _all.AddRange(runs);
        _report.AppendLine($"## Saturation: continuous vs request-level batching").AppendLine()
            .AppendLine($"The first {settings.BurstRequests:#,0} requests of each trace at {settings.BurstRateFactor}× their rate: the fleet is saturated, so " +
                "output tokens/s measures capacity. Fairness: weighted-fair.").AppendLine()
            .Append(MatrixTable.Markdown(runs)).AppendLine();
        return runs;
    }

    private List<FloodScenario.Outcome> Flood()
    {
        var f = settings.Flood;
        var sizes = TraceReader.Read(Path.Combine(settings.TracesFolder, "azure-llm-2023-conv.csv"), option: SimulatorOptions.Traces.Name).Rows;
        string[] placements = ["cost-aware", "least-outstanding", "queue-kv"];
        var choices = placements.SelectMany(p => PolicyMatrix.Fairnesses.Select(fair => settings.Default with { Placement = p, Fairness = fair })).ToList();
        var outcomes = FloodScenario.Run(fleet, sizes, f, choices).ToList();
        _all.AddRange(outcomes.Select(o => o.Flooded));
        _report.AppendLine("## Fairness under a flood").AppendLine()
            .AppendLine($"Two tenants of weight 1. The light tenant sends Poisson arrivals at {f.LightRate} req/s, the flooding tenant at {f.FloodMultiplier}× that " +
                $"({f.LightRate * f.FloodMultiplier} req/s), for {f.DurationSeconds} s, request sizes drawn from the conv trace (seed {f.Seed}); then both backlogs drain. " +
                "The light tenant's arrivals are identical with and without the flood.").AppendLine()
            .AppendLine("| policies | light p99 TTFT alone ms | light p99 TTFT flooded ms | ratio | light attainment alone / flooded | all jobs' attainment flooded | refused / failed alone, flooded | max gap (wtok) | VTC bound 2×max request | Jain |")
            .AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var o in outcomes)
        {
            _report.AppendLine($"| {o.Policies.Label} | {Format.Ms(o.LightP99AloneMs)} | {Format.Ms(o.LightP99FloodedMs)} | {(o.LightServed ? Format.Num(o.Ratio, "0.00") : "—")} | " +
                $"{Format.Pct(o.LightAttainmentAlone)} / {Format.Pct(o.LightAttainmentFlooded)} | {Format.Pct(o.Flooded.Attainment)} | {o.Alone.Refused} / {o.Alone.Failed}, {o.Flooded.Refused} / {o.Flooded.Failed} | " +
                $"{Format.Num(o.Flooded.Fairness.MaxServiceGap, "#,0")} | {Format.Num(o.Flooded.Fairness.VtcBound, "#,0")} | {Format.Num(o.Flooded.Fairness.JainIndex, "0.000")} |");
        }

        _report.AppendLine();
        return outcomes;
    }

    private void WriteTargets(
        Dictionary<string, (RunSummary Default, RunSummary? BestBaseline, RunSummary MostAttaining)> cost,
        Dictionary<string, (RunSummary Default, RunSummary? BestBaseline, RunSummary MostAttaining)> gpuOnly,
        List<RunSummary> burst,
        List<FloodScenario.Outcome> flood)
    {
        _report.AppendLine("## Targets").AppendLine();
        CostTargets(cost, fleet.Name);
        CostTargets(gpuOnly, gpuFleet.Name);
        BatchingAndFloodTargets(burst, flood);
    }

    private void CostTargets(Dictionary<string, (RunSummary Default, RunSummary? BestBaseline, RunSummary MostAttaining)> cost, string fleetName)
    {
        foreach (var (trace, (mine, best, most)) in cost)
        {
            var line = best is null
                ? $"no baseline reaches 99% attainment (best: {most.Policies.Placement} at {Format.Pct(most.Attainment)}, ${Format.Usd(most.CostPerMillionTokens)}/Mtok)"
                : $"best baseline at ≥ 99%: {best.Policies.Placement} ${Format.Usd(best.CostPerMillionTokens)}/Mtok → {Format.Pct(1 - (mine.CostPerMillionTokens / best.CostPerMillionTokens))} cheaper";
            _report.AppendLine($"- Cost, `{trace}` on `{fleetName}`: cost-aware ${Format.Usd(mine.CostPerMillionTokens)}/Mtok at {Format.Pct(mine.Attainment)} attainment; {line} " +
                $"(provisioned: {Format.Usd(mine.ProvisionedCostPerMillionTokens)} vs {Format.Usd((best ?? most).ProvisionedCostPerMillionTokens)}).");
        }

    }

    private void BatchingAndFloodTargets(List<RunSummary> burst, List<FloodScenario.Outcome> flood)
    {
        foreach (var group in burst.GroupBy(r => r.Workload))
        {
            var cont = group.Single(r => r.Policies == settings.Default);
            var req = group.Single(r => r.Policies == settings.Default with { Batching = "request-level" });
            _report.AppendLine($"- Continuous vs request-level, `{group.Key}` (cost-aware): {Format.Num(cont.OutputTokensPerSecond, "#,0")} vs {Format.Num(req.OutputTokensPerSecond, "#,0")} output tok/s " +
                $"(×{Format.Num(cont.OutputTokensPerSecond / req.OutputTokensPerSecond, "0.00")}); p99 TTFT {Format.Ms(cont.TtftP99Ms)} vs {Format.Ms(req.TtftP99Ms)} ms; " +
                $"p99 TPOT {Format.Ms(cont.TpotP99Ms)} vs {Format.Ms(req.TpotP99Ms)} ms.");
        }

        foreach (var o in flood)
        {
            _report.AppendLine($"- Flood, {o.Policies.Label}: light tenant p99 TTFT ×{Format.Num(o.Ratio, "0.00")} of alone ({Format.Ms(o.LightP99FloodedMs)} vs {Format.Ms(o.LightP99AloneMs)} ms); light attainment {Format.Pct(o.LightAttainmentFlooded)}.");
        }

        _report.AppendLine();
    }

    private void Plan()
    {
        _report.AppendLine("## Fleet planning").AppendLine()
            .AppendLine($"Catalogue `{catalogue.Name}`: at most {catalogue.Summary()}. Cheapest fleet meeting ≥ 99% TTFT attainment with the default policies " +
                "(greedy descent from the maximum, with and without the metered endpoint; provisioned cost: hourly accelerators for the whole run + metered tokens). " +
                "A type missing from the single-type rows cannot meet the objective alone within the catalogue.").AppendLine()
            .AppendLine("| trace | fleet | $/h | attainment | $/Mtok provisioned | note |")
            .AppendLine("|---|---|---:|---:|---:|---|");
        foreach (var trace in settings.Traces)
        {
            var plan = new FleetPlanner(trace.Load(settings.TracesFolder), settings.Default, settings.Seed, progress).Run(catalogue);
            Row(trace.Name, plan.Catalogue, "catalogue maximum");
            foreach (var (found, label) in new[] { (plan.WithMetered, "cheapest with the metered endpoint"), (plan.WithoutMetered, "cheapest without it") })
            {
                if (found is not null)
                {
                    Row(trace.Name, found, found == plan.Cheapest ? $"**{label}: cheapest overall** ({plan.Simulations} simulations in all)" : label);
                }
            }

            foreach (var single in plan.SingleType)
            {
                Row(trace.Name, single, "cheapest single type");
            }
        }

        _report.AppendLine();

        void Row(string trace, FleetPlanner.Candidate c, string note) =>
            _report.AppendLine($"| {trace} | {c.Fleet.Summary()} | {Format.Usd(c.CostPerHourUsd)} | {Format.Pct(c.Summary.Attainment)} | {Format.Usd(c.Summary.ProvisionedCostPerMillionTokens)} | {note} |");
    }

    private void WritePlots(List<(string Trace, IReadOnlyList<(string, double[])> Series)> cdfs, List<RunSummary> burst, List<FloodScenario.Outcome> flood)
    {
        var matrix = _all.Where(r => settings.Traces.Any(t => t.Name == r.Workload)).ToList();
        var labels = settings.Choices().Select(c => c.Label).ToList();
        var byTrace = settings.Traces.Select(t => (t.Name, matrix.Where(r => r.Workload == t.Name).ToList())).ToList();
        string Png(string name) => Path.Combine(settings.OutputFolder, name);

        Plots.GroupedBars(Png("cost-per-mtok.png"), "Cost per million tokens (busy accelerator time + metered)", "USD / Mtok", labels,
            [.. byTrace.Select(t => (t.Name, t.Item2.Select(r => r.CostPerMillionTokens).ToArray()))]);
        Plots.GroupedBars(Png("ttft-p99.png"), "TTFT p99", "ms", labels, [.. byTrace.Select(t => (t.Name, t.Item2.Select(r => r.TtftP99Ms).ToArray()))]);
        Plots.GroupedBars(Png("attainment.png"), "TTFT objective attainment", "fraction", labels, [.. byTrace.Select(t => (t.Name, t.Item2.Select(r => r.Attainment).ToArray()))]);
        foreach (var (trace, series) in cdfs)
        {
            var p99Max = series.Max(s => Percentiles.Of(s.Item2, 99));
            Plots.Cdf(Png($"ttft-cdf-{trace}.png"), $"TTFT distribution, {trace} trace (continuous, weighted-fair)", "TTFT ms", series, p99Max * 1.2);
        }

        var burstGroups = burst.GroupBy(r => r.Workload).ToList();
        Plots.GroupedBars(Png("batching-throughput.png"), "Saturated output tokens/s: continuous vs request-level", "output tok/s",
            [.. burstGroups.SelectMany(g => PolicyMatrix.Placements.Select(p => $"{g.Key} {p}"))],
            [.. PolicyMatrix.Batchings.Select(b => (b, BurstThroughput(burstGroups, b)))]);
        Plots.GroupedBars(Png("flood-light-p99.png"), "Light tenant p99 TTFT: alone vs under a 10× flood", "ms",
            [.. flood.Select(o => $"{o.Policies.Placement} {o.Policies.Fairness}")],
            [("alone", [.. flood.Select(o => o.LightP99AloneMs)]), ("flooded", [.. flood.Select(o => o.LightP99FloodedMs)])]);
        _report.AppendLine("## Plots").AppendLine();
        foreach (var png in Directory.GetFiles(settings.OutputFolder, "*.png").Order())
        {
            _report.AppendLine($"![{Path.GetFileNameWithoutExtension(png)}]({Path.GetFileName(png)})");
        }
    }

    private static double[] BurstThroughput(List<IGrouping<string, RunSummary>> groups, string batching) =>
        [.. groups.SelectMany(g => PolicyMatrix.Placements.Select(p => g.Single(r => r.Policies.Placement == p && r.Policies.Batching == batching).OutputTokensPerSecond))];
}
