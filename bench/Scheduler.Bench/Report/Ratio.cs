using Scheduler.Bench.Harness;

namespace Scheduler.Bench.Report;

/// <summary>One DESIGN.md target: a measured ratio against its bound.</summary>
internal sealed record Ratio(string Name, double Value, double Bound, bool AtMost)
{
    public bool Met => AtMost ? Value <= Bound : Value >= Bound;

    public string Target => (AtMost ? "≤ " : "≥ ") + Bound.ToString("0.0#", Format.Culture);

    /// <summary>The targets with a StreamJob call per job (the target's "64 concurrent streams"), then again with the jobs
    /// submitted over <paramref name="streams"/> open StreamJobs calls.</summary>
    public static IReadOnlyList<Ratio> Of(PathResult echo, PathResult scheduler, PathResult multiplexed, int streams) =>
    [
        new("TTFT p50 ÷ echo p50", scheduler.Sequential.First.P50Us / echo.Sequential.Total.P50Us, 2.5, AtMost: true),
        new("TTFT p99 ÷ echo p99", scheduler.Sequential.First.P99Us / echo.Sequential.Total.P99Us, 3, AtMost: true),
        new("jobs/s ÷ echo calls/s (64 concurrent)", scheduler.Concurrent.PerSecond / echo.Concurrent.PerSecond, 0.3, AtMost: false),
        new($"TTFT p50 ÷ echo p50 (over {streams} open StreamJobs calls)", multiplexed.Sequential.First.P50Us / echo.Sequential.Total.P50Us, 2.5, AtMost: true),
        new($"TTFT p99 ÷ echo p99 (over {streams} open StreamJobs calls)", multiplexed.Sequential.First.P99Us / echo.Sequential.Total.P99Us, 3, AtMost: true),
        new($"jobs/s ÷ echo calls/s (64 in flight over {streams} StreamJobs calls)", multiplexed.Concurrent.PerSecond / echo.Concurrent.PerSecond, 0.3, AtMost: false),
    ];
}
