using System.Text;
using Scheduler.Policies.Placement;
using Scheduler.Simulator.Engine;
using Scheduler.Simulator.Fleet;
using Scheduler.Simulator.Metrics;
using Scheduler.Simulator.Reports;
using Scheduler.Simulator.Workload;

namespace Scheduler.Simulator.Scenarios;

/// <summary>What one placement did on one prefix-sharing workload: its prefix-cache hit rate next to the oracle's
/// (an infinite cache and perfect routing, over the requests it served), its TTFT percentiles, attainment and cost, where the hits it missed
/// went (<see cref="PrefixLoss"/>), and the p90 first token no placement could beat (the oracle's cache, each request
/// alone on the fleet's fastest accelerator: <see cref="PrefixWorkloads.IdealTtftP90Ms"/>).</summary>
internal sealed record PrefixOutcome(
    string Workload, string Placement, double HitRate, double OracleHitRate, double TtftP50Ms, double TtftP90Ms, double TtftP99Ms,
    double Attainment, double CostPerMillionTokens, int Unserved, double LostEvicted, double LostPrefilling, double LostHolderFull, double LostElsewhere,
    double IdealTtftP90Ms, IReadOnlyList<string>? UnservedLines = null)
{
    public double OfOracle => OracleHitRate > 0 ? HitRate / OracleHitRate : double.NaN;
}

/// <summary>
/// Replays prefix-sharing workloads (<see cref="PrefixWorkloads"/>, or a KV-cache trace) with every placement under
/// continuous batching and weighted-fair queuing, each replica keeping a prefix cache in its KV room as the simulated
/// engine does.
/// </summary>
internal static class PrefixScenario
{
    /// <summary>The load-only baselines, the prefix-only baseline, and cost-aware placement (which counts cache hits).</summary>
    public static readonly string[] Placements = ["round-robin", "least-outstanding", "power-of-two", "queue-kv", "prefix-only", "cost-aware"];

    /// <summary>Runs every placement on every workload; <paramref name="maxPreemptions"/> as the placement grain's
    /// <c>Scheduling:MaxPreemptions</c> (0: none), the engines' caches as <paramref name="engineCache"/> says (null: as
    /// the worker's simulated engine), a second of waiting priced at <paramref name="waitCostUsdPerSecond"/>, a second of a
    /// session's turn's at <paramref name="sessionWaitCostUsdPerSecond"/>.</summary>
    public static IReadOnlyList<PrefixOutcome> Run(
        FleetSpec fleet, IEnumerable<Workload.Workload> workloads, int seed, int maxPreemptions = PolicyChoice.DefaultMaxPreemptions, IReadOnlyList<string>? placements = null,
        EngineCacheModel? engineCache = null, double waitCostUsdPerSecond = PlacementSettings.DefaultWaitCostUsdPerSecond, double sessionWaitCostUsdPerSecond = PlacementSettings.DefaultSessionWaitCostUsdPerSecond)
    {
        var outcomes = new List<PrefixOutcome>();
        foreach (var workload in workloads)
        {
            var choices = (placements ?? Placements).Select(p => PolicyMatrix.Default with { Placement = p, MaxPreemptions = maxPreemptions, EngineCache = engineCache, WaitCostUsdPerSecond = waitCostUsdPerSecond, SessionWaitCostUsdPerSecond = sessionWaitCostUsdPerSecond }).ToList();
            outcomes.AddRange(PolicyMatrix.Run(fleet, workload, choices, seed).Select(Outcome));
        }

        return outcomes;
    }

    /// <summary>The run's figures. The oracle's hit rate and the ideal p90 are taken over the requests the run served,
    /// as its own hit rate and percentiles are: a refused request neither seeds the oracle's cache nor counts in its
    /// figures, so the two columns compare like with like.</summary>
    public static PrefixOutcome Outcome(RunResult run)
    {
        var served = run.Finished.Select(s => s.Request).ToList();
        var oracleHitRate = PrefixWorkloads.OracleHitRate(served);
        var idealTtftP90Ms = PrefixWorkloads.IdealTtftP90Ms(served, [.. run.Fleet.Nodes.Select(n => n.Profile())]);
        var summary = run.Summarize();
        var ttft = Percentiles.Sorted(run.Finished.Select(s => s.TtftMs));
        var prompt = run.Finished.Sum(s => (long)s.Request.PromptTokens);
        var cached = run.Finished.Sum(s => (long)s.CachedPromptTokens);
        // A run that served nothing has no rates: dashes, not 0% (or NaN).
        var none = run.Finished.Count == 0;
        return new PrefixOutcome(
            run.Workload, run.Policies.Placement, prompt == 0 ? double.NaN : cached / (double)prompt, none ? double.NaN : oracleHitRate,
            Percentiles.Of(ttft, 50), Percentiles.Of(ttft, 90), Percentiles.Of(ttft, 99), none ? double.NaN : summary.Attainment, summary.CostPerMillionTokens,
            run.Unserved.Count, run.PrefixLoss.Evicted, run.PrefixLoss.StillPrefilling, run.PrefixLoss.HolderFull, run.PrefixLoss.PlacedElsewhere, idealTtftP90Ms,
            [.. UnservedText.Lines(run.Unserved, run.Fleet)]);
    }

    public static string Markdown(FleetSpec fleet, IReadOnlyList<PrefixOutcome> outcomes)
    {
        var text = new StringBuilder();
        text.AppendLine($"Fleet `{fleet.Name}`: {fleet.Heading()}. Continuous batching, weighted-fair queuing.");
        text.AppendLine();
        text.AppendLine("| workload | placement | hit rate | oracle | of oracle | TTFT p50 ms | p90 ms | p99 ms | attainment | $/Mtok | unserved | lost: evicted | still prefilling | holder full | placed elsewhere | ideal p90 ms |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var o in outcomes)
        {
            text.AppendLine($"| {o.Workload} | {o.Placement} | {Format.Pct(o.HitRate)} | {Format.Pct(o.OracleHitRate)} | {Format.Pct(o.OfOracle)} | " +
                $"{Format.Ms(o.TtftP50Ms)} | {Format.Ms(o.TtftP90Ms)} | {Format.Ms(o.TtftP99Ms)} | {Format.Pct(o.Attainment)} | {Format.Usd(o.CostPerMillionTokens)} | {o.Unserved} | " +
                $"{Format.Pct(o.LostEvicted)} | {Format.Pct(o.LostPrefilling)} | {Format.Pct(o.LostHolderFull)} | {Format.Pct(o.LostElsewhere)} | {Format.Ms(o.IdealTtftP90Ms)} |");
        }

        // Unserved requests are named, as `run` names them, not only counted.
        foreach (var o in outcomes.Where(o => o.UnservedLines is { Count: > 0 }))
        {
            text.AppendLine();
            foreach (var line in o.UnservedLines!)
            {
                text.AppendLine($"{o.Workload} / {o.Placement}: {line}");
            }
        }

        return text.ToString();
    }
}
