using System.Globalization;

namespace Scheduler.Bench.Prefix;

/// <summary>One policy's run summarised: prefix hit rate and client-side TTFT percentiles over the completed turns, and
/// the placement's index of the replicas' caches at the end (blocks held, blocks forgotten on the engines' word).</summary>
internal sealed record PolicyResult(string Policy, int Turns, int Failed, long PromptTokens, long CachedPromptTokens, long OracleCachedTokens, double P50, double P90, double P99, double MeanLaterTurnsMs, double WallSeconds,
    long IndexBlocks = 0, long IndexForgotten = 0)
{
    public double HitRate => PromptTokens == 0 ? 0 : (double)CachedPromptTokens / PromptTokens;

    /// <summary>Cached tokens as a share of the oracle's: both in the simulated engine's blocks, so unlike
    /// <see cref="HitRate"/> (whose prompt tokens are the scheduler's tokenizer's) free of the two tokenizers' ratio.</summary>
    public double OfOracle => OracleCachedTokens == 0 ? 0 : (double)CachedPromptTokens / OracleCachedTokens;

    public static PolicyResult Of(string policy, IReadOnlyList<TurnResult> turns, double wallSeconds)
    {
        var done = turns.Where(t => t.Error is null).ToList();
        var ttft = done.Select(t => t.TtftMs).Where(t => !double.IsNaN(t)).Order().ToArray();
        var later = done.Where(t => t.Turn > 0).Select(t => t.TtftMs).Where(t => !double.IsNaN(t)).ToArray();
        return new(
            policy,
            done.Count,
            turns.Count - done.Count,
            done.Sum(t => (long)t.PromptTokens),
            done.Sum(t => (long)t.CachedPromptTokens),
            done.Sum(t => (long)t.OracleCachedTokens),
            Percentile(ttft, 0.50),
            Percentile(ttft, 0.90),
            Percentile(ttft, 0.99),
            later.Length == 0 ? double.NaN : later.Average(),
            wallSeconds);
    }

    public string Row() => string.Create(
        CultureInfo.InvariantCulture,
        $"| `{Policy}` | {Turns} | {Failed} | {PromptTokens:N0} | {CachedPromptTokens:N0} | {HitRate:P1} | {OfOracle:P1} | {P50:F0} | {P90:F0} | {P99:F0} | {MeanLaterTurnsMs:F0} | {WallSeconds:F0} | {IndexBlocks:N0} ({IndexForgotten:N0} forgotten) |");

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
