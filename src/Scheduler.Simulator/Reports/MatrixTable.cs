using System.Text;
using Scheduler.Simulator.Metrics;

namespace Scheduler.Simulator.Reports;

/// <summary>The policy table of one workload, in markdown.</summary>
internal static class MatrixTable
{
    public static string Markdown(IReadOnlyList<RunSummary> runs)
    {
        var text = new StringBuilder();
        text.AppendLine("| placement | batching | fairness | refused / failed | $/Mtok used | $/Mtok provisioned | TTFT p50 / p99 ms | TPOT p50 / p99 ms | TTFT attainment | goodput req/s | out tok/s | utilisation | share of output tokens | J / out token | max gap (wtok) | Jain | wall s |");
        text.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|");
        foreach (var run in runs)
        {
            var p = run.Policies;
            text.AppendLine($"| {p.Placement} | {p.Batching} | {p.Fairness} | {run.Refused} / {run.Failed} | {Format.Usd(run.CostPerMillionTokens)} | {Format.Usd(run.ProvisionedCostPerMillionTokens)} | " +
                $"{Format.Ms(run.TtftP50Ms)} / {Format.Ms(run.TtftP99Ms)} | {Format.Ms(run.TpotP50Ms)} / {Format.Ms(run.TpotP99Ms)} | {Format.Pct(run.Attainment)} | " +
                $"{Format.Num(run.GoodputRequestsPerSecond)} | {Format.Num(run.OutputTokensPerSecond, "#,0")} | {Format.ByProduct(run.UtilisationByProduct)} | {Format.ByProduct(run.TokenShareByProduct)} | " +
                $"{Format.Num(run.JoulesPerOutputToken, "0.00")} | {Format.Num(run.Fairness.MaxServiceGap, "#,0")} | {Format.Num(run.Fairness.JainIndex, "0.000")} | {Format.Num(run.WallMs / 1000, "0.0")} |");
        }

        return text.ToString();
    }

    /// <summary>The same figures as CSV, for anyone who wants to plot them differently.</summary>
    public static string Csv(IEnumerable<RunSummary> runs)
    {
        var text = new StringBuilder("workload,placement,batching,fairness,jobs,refused,failed,input_tokens,output_tokens,makespan_s,cost_usd,provisioned_cost_usd,cost_per_mtok,provisioned_cost_per_mtok,ttft_p50_ms,ttft_p99_ms,tpot_p50_ms,tpot_p99_ms,attainment,goodput_rps,output_tok_s,energy_j,max_gap,jain,wall_ms\n");
        foreach (var r in runs)
        {
            text.AppendLine(string.Join(',', r.Workload, r.Policies.Placement, r.Policies.Batching, r.Policies.Fairness, r.Jobs, r.Refused, r.Failed, r.InputTokens, r.OutputTokens,
                Format.Num(r.MakespanSeconds, "0.###"), Format.Num(r.CostUsd, "0.######"), Format.Num(r.ProvisionedCostUsd, "0.######"),
                Format.Num(r.CostPerMillionTokens, "0.######"), Format.Num(r.ProvisionedCostPerMillionTokens, "0.######"),
                Format.Num(r.TtftP50Ms, "0.###"), Format.Num(r.TtftP99Ms, "0.###"), Format.Num(r.TpotP50Ms, "0.###"), Format.Num(r.TpotP99Ms, "0.###"),
                Format.Num(r.Attainment, "0.#####"), Format.Num(r.GoodputRequestsPerSecond, "0.###"), Format.Num(r.OutputTokensPerSecond, "0.#"),
                Format.Num(r.EnergyJoules, "0"), Format.Num(r.Fairness.MaxServiceGap, "0"), Format.Num(r.Fairness.JainIndex, "0.####"), Format.Num(r.WallMs, "0")));
        }

        return text.ToString();
    }
}
