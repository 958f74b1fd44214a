using System.Diagnostics;
using Scheduler.Bench.Harness;
using Scheduler.Worker.Engines.Llama;

namespace Scheduler.Bench.Llama.Workload;

/// <summary>One path's run of the workload: output tokens/s over the whole run, TTFT and TPOT percentiles, and how
/// the engine batched.</summary>
internal sealed record RunResult(
    string Path,
    int Jobs,
    int FailedJobs,
    long OutputTokens,
    double Seconds,
    LatencySummary Ttft,
    LatencySummary Tpot,
    LlamaEngineStats Engine)
{
    public double TokensPerSecond => OutputTokens / Seconds;

    public static RunResult Of(string path, IReadOnlyCollection<JobTimeline> jobs, long elapsedTicks, LlamaEngineStats engine)
    {
        var done = jobs.Where(j => j.Finished && j.Error is null).ToList();
        return new RunResult(
            path,
            jobs.Count,
            jobs.Count - done.Count,
            done.Sum(j => (long)j.Tokens),
            (double)elapsedTicks / Stopwatch.Frequency,
            LatencySummary.Of([.. done.Where(j => j.Tokens > 0).Select(j => j.TtftTicks)]),
            LatencySummary.Of([.. done.Select(j => j.TpotTicks).OfType<long>()]),
            engine);
    }
}
