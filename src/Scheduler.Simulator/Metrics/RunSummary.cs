namespace Scheduler.Simulator.Metrics;

/// <summary>
/// The figures a run is judged by. Cost counts what the run consumed: each hourly accelerator's busy time at its
/// price, plus metered tokens at their price (as the live system bills jobs); the provisioned cost also pays hourly
/// accelerators while idle, for the whole makespan. Tokens are input plus output.
/// </summary>
internal sealed record RunSummary(
    string Workload,
    PolicyChoice Policies,
    int Jobs,
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
    double WallMs)
{
    public long Tokens => InputTokens + OutputTokens;
    public double CostPerMillionTokens => CostUsd / Tokens * 1e6;
    public double ProvisionedCostPerMillionTokens => ProvisionedCostUsd / Tokens * 1e6;
    public double JoulesPerOutputToken => EnergyJoules / OutputTokens;

    public static RunSummary Of(RunResult run)
    {
        var finished = run.Finished;
        var start = finished.Count == 0 ? 0 : finished.Min(s => s.Request.ArrivalMs);
        var end = finished.Count == 0 ? 0 : finished.Max(s => s.FinishedMs);
        var makespan = Math.Max(1e-9, (end - start) / 1000.0);
        var ttft = Percentiles.Sorted(finished.Select(s => s.TtftMs));
        var tpot = Percentiles.Sorted(finished.Select(s => s.TpotMs));
        var met = finished.Count(s => s.MetObjective);
        var metered = run.Replicas.Sum(r => r.MeteredCostUsd);
        var busyHourly = run.Replicas.Sum(r => r.HourlyCostUsd);
        var provisioned = run.Replicas.Sum(r => r.Profile.HourlyCostUsd(makespan)) + metered;
        var byProduct = run.Replicas.GroupBy(r => r.Profile.Product).ToList();
        var outputTokens = finished.Sum(s => (long)s.Request.OutputTokens);
        return new RunSummary(
            run.Workload,
            run.Policies,
            finished.Count,
            finished.Sum(s => (long)s.Request.PromptTokens),
            outputTokens,
            makespan,
            busyHourly + metered,
            provisioned,
            Percentiles.Of(ttft, 50),
            Percentiles.Of(ttft, 99),
            Percentiles.Of(tpot, 50),
            Percentiles.Of(tpot, 99),
            finished.Count == 0 ? 0 : met / (double)finished.Count,
            met / makespan,
            outputTokens / makespan,
            byProduct.ToDictionary(g => g.Key, g => g.Sum(r => r.BusyMs) / 1000.0 / (g.Count() * makespan)),
            byProduct.ToDictionary(g => g.Key, g => g.Sum(r => (double)r.TokensOut) / Math.Max(1, outputTokens)),
            run.Replicas.Sum(r => r.EnergyJoules),
            run.Fairness,
            run.WallMs);
    }
}
