using System.Diagnostics;

namespace Scheduler.Bench.Harness;

/// <summary>Sequential latency of one caller, and throughput of many concurrent callers for a fixed time.</summary>
internal static class LoadRunner
{
    /// <summary>Runs <paramref name="count"/> calls one after another. A failed call fails the run: sequential
    /// figures with holes in them would flatter the path that fails.</summary>
    public static async Task<SequentialSamples> Sequential(TimedCall call, int count, CancellationToken cancellationToken)
    {
        var first = new long[count];
        var total = new long[count];
        var cpu = Environment.CpuUsage.TotalTime;
        for (var i = 0; i < count; i++)
        {
            var timing = await call(cancellationToken);
            first[i] = timing.FirstTicks;
            total[i] = timing.TotalTicks;
        }

        cpu = Environment.CpuUsage.TotalTime - cpu;
        return new SequentialSamples(LatencySummary.Of(first), LatencySummary.Of(total), CpuPerCallUs: cpu.TotalMicroseconds / count);
    }

    /// <summary>
    /// Keeps <paramref name="callers"/> calls in flight: each caller starts its next call as soon as its last one
    /// ends. Calls that finish during the first <paramref name="warmUp"/> are not counted (connections, JIT,
    /// grain activations and batches reach steady state there); calls that finish within the next
    /// <paramref name="duration"/> are. Failures are counted, not thrown, so a path that sheds load shows it.
    /// </summary>
    public static async Task<ConcurrentSamples> Concurrent(
        TimedCall call, int callers, TimeSpan warmUp, TimeSpan duration, CancellationToken cancellationToken)
    {
        var from = Stopwatch.GetTimestamp() + ToTicks(warmUp);
        var to = from + ToTicks(duration);
        var workers = Enumerable.Range(0, callers).Select(_ => Caller(call, from, to, cancellationToken)).ToArray();
        var (cpu, allocated) = await CostBetween(from, to, cancellationToken);
        var results = await Task.WhenAll(workers);

        var first = results.SelectMany(r => r.First).ToList();
        var total = results.SelectMany(r => r.Total).ToList();
        var failed = results.Sum(r => r.Failed);
        var error = results.Select(r => r.FirstError).FirstOrDefault(e => e is not null);
        return new ConcurrentSamples(callers, duration, total.Count, failed, error, LatencySummary.Of(first), LatencySummary.Of(total), cpu, allocated);
    }

    /// <summary>
    /// This process's CPU time and managed bytes allocated (all threads: client, servers, silo) in the measured
    /// window. CPU against the window's length says whether the cores were the limit or the work was waiting on
    /// something; the bytes are a cost that does not depend on the share of the cores the run got.
    /// </summary>
    private static async Task<(TimeSpan Cpu, long Allocated)> CostBetween(long from, long to, CancellationToken cancellationToken)
    {
        await Task.Delay(Until(from), cancellationToken);
        var cpu = Environment.CpuUsage.TotalTime;
        // precise: the bytes handed out to threads' allocation contexts but not yet used are not counted, so the
        // two readings bracket exactly what the window allocated.
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        await Task.Delay(Until(to), cancellationToken);
        return (Environment.CpuUsage.TotalTime - cpu, GC.GetTotalAllocatedBytes(precise: true) - allocated);
    }

    private static async Task<CallerResult> Caller(TimedCall call, long from, long to, CancellationToken cancellationToken)
    {
        // Yield first so that all callers are started before any of them runs its first call inline.
        await Task.Yield();
        var result = new CallerResult();
        while (Stopwatch.GetTimestamp() < to)
        {
            try
            {
                var timing = await call(cancellationToken);
                var end = Stopwatch.GetTimestamp();
                if (end >= from && end < to)
                {
                    result.First.Add(timing.FirstTicks);
                    result.Total.Add(timing.TotalTicks);
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                var end = Stopwatch.GetTimestamp();
                if (end >= from && end < to)
                {
                    result.Failed++;
                    result.FirstError ??= ex.GetType().Name + ": " + ex.Message;
                }
            }
        }

        return result;
    }

    private static TimeSpan Until(long timestamp)
    {
        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private static long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private sealed class CallerResult
    {
        public List<long> First { get; } = [];

        public List<long> Total { get; } = [];

        public long Failed { get; set; }

        public string? FirstError { get; set; }
    }
}

/// <summary>Sequential latencies: to the first response (first token) and to the end of the call; and this
/// process's CPU time per call (client and server together).</summary>
internal sealed record SequentialSamples(LatencySummary First, LatencySummary Total, double CpuPerCallUs);

/// <summary>What many concurrent callers achieved in the measured window.</summary>
internal sealed record ConcurrentSamples(
    int Callers, TimeSpan Duration, long Completed, long Failed, string? FirstError, LatencySummary First, LatencySummary Total, TimeSpan Cpu, long AllocatedBytes)
{
    public double PerSecond => Completed / Duration.TotalSeconds;

    /// <summary>Cores this process kept busy on average in the window (the machine has <see cref="Environment.ProcessorCount"/>).</summary>
    public double CoresBusy => Cpu / Duration;

    public double CpuPerCallUs => Completed == 0 ? 0 : Cpu.TotalMicroseconds / Completed;

    /// <summary>Managed bytes the whole process allocated in the window per completed call.</summary>
    public double BytesPerCall => Completed == 0 ? 0 : (double)AllocatedBytes / Completed;
}
