using Scheduler.Simulator.Reports;

namespace Scheduler.Simulator.Metrics;

/// <summary>
/// The figures a run is judged by. Cost counts what the run consumed: each hourly accelerator's busy time at its
/// price, plus metered tokens at their price (as the live system bills jobs); the provisioned cost also pays hourly
/// accelerators while idle: a static fleet's for the whole makespan, an autoscaled pool's replicas from when they were
/// asked for (cold start included) until released. Tokens are input plus output, of served requests. A request
/// refused for exceeding the model's context is counted in <see cref="Refused"/> (the live API refuses it too); one
/// that failed (no replica could hold it) in <see cref="Failed"/>, and as missed in <see cref="Attainment"/>.
/// </summary>
internal sealed record RunSummary(
    string Workload,
    PolicyChoice Policies,
    int Jobs,
    int Refused,
    int Failed,
    long InputTokens,
    long OutputTokens,
    double MakespanSeconds,
    double CostUsd,
    double ProvisionedCostUsd,
    double TtftP50Ms,
    double TtftP99Ms,
    double TpotP50Ms,
    double TpotP99Ms,
    double Attainment,
    double GoodputRequestsPerSecond,
    double OutputTokensPerSecond,
    IReadOnlyDictionary<string, double> UtilisationByProduct,
    IReadOnlyDictionary<string, double> TokenShareByProduct,
    double EnergyJoules,
    FairnessResult Fairness,
    double WallMs,
    long Preempted = 0)
{
    public long Tokens => InputTokens + OutputTokens;

    // No token served, no price per token: NaN (a dash), not the +∞ an autoscaled pool paid for while every request
    // failed divided into (it printed "Infinity").
    public double CostPerMillionTokens => PerMillionTokens(CostUsd);
    public double ProvisionedCostPerMillionTokens => PerMillionTokens(ProvisionedCostUsd);
    public double JoulesPerOutputToken => EnergyJoules / OutputTokens;

    /// <summary>Every figure with its value (a record's default text would print the maps' type names).</summary>
    public override string ToString() => string.Join(Environment.NewLine,
        $"workload {Workload}, policies {Policies.Label}",
        $"jobs served {Format.Num(Jobs, "#,0")}, refused over the model's context {Format.Num(Refused, "#,0")}, failed {Format.Num(Failed, "#,0")}",
        $"tokens in {Format.Num(InputTokens, "#,0")} / out {Format.Num(OutputTokens, "#,0")}, makespan {Format.Num(MakespanSeconds, "#,0.0")} s",
        $"cost ${Format.Usd(CostUsd)} used, ${Format.Usd(ProvisionedCostUsd)} provisioned; per Mtok ${Format.Usd(CostPerMillionTokens)} used, ${Format.Usd(ProvisionedCostPerMillionTokens)} provisioned",
        $"TTFT p50 {Format.Ms(TtftP50Ms)} ms, p99 {Format.Ms(TtftP99Ms)} ms; TPOT p50 {Format.Ms(TpotP50Ms)} ms, p99 {Format.Ms(TpotP99Ms)} ms; attainment {AttainmentText}",
        $"goodput {Format.Num(GoodputRequestsPerSecond)} req/s, {Format.Num(OutputTokensPerSecond, "#,0")} output tok/s, {Format.Num(JoulesPerOutputToken, "0.00")} J/output token",
        $"utilisation {Format.ByProduct(UtilisationByProduct)}",
        $"share of output tokens {Format.ByProduct(TokenShareByProduct)}",
        Fairness.ToString(),
        $"sequences preempted {Format.Num(Preempted, "#,0")}",
        $"simulated in {Format.Num(WallMs / 1000, "0.0")} s");

    // Its denominator said with it: a refused request is not in it (the live API refuses it at the door), so of two fleets
    // whose context limits differ, the one refusing more would read better without it; and 0 of 0 is no figure.
    private string AttainmentText => Jobs + Failed == 0
        ? "— (nothing served or failed)"
        : $"{Format.Pct(Attainment)} of {Format.Num(Jobs + Failed, "#,0")} served or failed" + (Refused > 0 ? $" ({Format.Num(Refused, "#,0")} refused over the context not counted)" : "");

    private double PerMillionTokens(double usd) => Tokens == 0 ? double.NaN : usd / Tokens * 1e6;

    public static RunSummary Of(RunResult run)
    {
        var finished = run.Finished;
        var start = finished.Count == 0 ? 0 : finished.Min(s => s.Request.ArrivalMs);
        var end = finished.Count == 0 ? 0 : finished.Max(s => s.FinishedMs);
        var makespan = Math.Max(1e-9, (end - start) / 1000.0);
        var ttft = Percentiles.Sorted(finished.Select(s => s.TtftMs));
        var tpot = Percentiles.Sorted(finished.Select(s => s.TpotMs));
        var met = finished.Count(s => s.MetObjective);
        var refused = run.Unserved.Count(s => s.Unserved == Engine.Unserved.OverContext);
        var failed = run.Unserved.Count - refused;
        var metered = run.Replicas.Sum(r => r.MeteredCostUsd);
        var busyHourly = run.Replicas.Sum(r => r.HourlyCostUsd);
        var provisioned = run.Replicas.Sum(r => r.Profile.HourlyCostUsd(r.ProvisionedSeconds(start, end))) + metered;
        var byProduct = run.Replicas.GroupBy(r => r.Profile.Product).ToList();
        var outputTokens = finished.Sum(s => (long)s.Request.OutputTokens);
        return new RunSummary(
            run.Workload,
            run.Policies,
            finished.Count,
            refused,
            failed,
            finished.Sum(s => (long)s.Request.PromptTokens),
            outputTokens,
            makespan,
            busyHourly + metered,
            provisioned,
            Percentiles.Of(ttft, 50),
            Percentiles.Of(ttft, 99),
            Percentiles.Of(tpot, 50),
            Percentiles.Of(tpot, 99),
            finished.Count + failed == 0 ? 0 : met / (double)(finished.Count + failed),
            met / makespan,
            outputTokens / makespan,
            byProduct.ToDictionary(g => g.Key, g => g.Sum(r => r.BusyMs) / 1000.0 / (g.Count() * makespan)),
            byProduct.ToDictionary(g => g.Key, g => g.Sum(r => (double)r.TokensOut) / Math.Max(1, outputTokens)),
            run.Replicas.Sum(r => r.EnergyJoules),
            run.Fairness,
            run.WallMs,
            run.Replicas.Sum(r => r.Preempted));
    }
}
