using System.Diagnostics;

namespace Scheduler.Bench.Harness;

/// <summary>Percentiles of a set of latencies, in microseconds.</summary>
internal sealed record LatencySummary(int Count, double P50Us, double P90Us, double P99Us, double MeanUs, double MaxUs)
{
    public static LatencySummary Empty { get; } = new(0, 0, 0, 0, 0, 0);

    public static LatencySummary Of(IReadOnlyCollection<long> ticks)
    {
        if (ticks.Count == 0)
        {
            return Empty;
        }

        var sorted = ticks.Order().ToArray();
        return new LatencySummary(
            sorted.Length,
            Micros(Percentile(sorted, 0.50)),
            Micros(Percentile(sorted, 0.90)),
            Micros(Percentile(sorted, 0.99)),
            Micros((long)sorted.Average()),
            Micros(sorted[^1]));
    }

    /// <summary>Nearest-rank percentile: the smallest sample with at least <paramref name="p"/> of the samples at or below it.
    /// No interpolation, so p99 is always a latency some call really had.</summary>
    private static long Percentile(long[] sorted, double p)
    {
        var rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    private static double Micros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}
