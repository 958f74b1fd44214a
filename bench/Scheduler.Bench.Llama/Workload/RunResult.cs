using System.Diagnostics;
using Scheduler.Bench.Harness;
using Scheduler.Worker.Engines.Llama;

namespace Scheduler.Bench.Llama.Workload;

/// <summary>One path's run of the workload: output tokens/s over the whole run, the process's CPU seconds in it, TTFT
/// and TPOT percentiles, how long a freed slot stayed empty, and how the engine batched.</summary>
internal sealed record RunResult(
    string Path,
    int Jobs,
    int FailedJobs,
    long OutputTokens,
    double Seconds,
    double CpuSeconds,
    LatencySummary Ttft,
    LatencySummary Tpot,
    LatencySummary Refill,
    LlamaEngineStats Engine)
{
    public double TokensPerSecond => OutputTokens / Seconds;

    /// <summary>The engine's own milliseconds in its steps (decode call and sampling), summed; null where the bench
    /// does not see the step reports (through the scheduler).</summary>
    public double? StepMs { get; init; }

    /// <summary>CPU seconds of the thread that ran the engine's steps (decode calls, sampling, the driver's admissions):
    /// what the engine cost whatever share of a core it got; null where the bench does not run the steps itself
    /// (through the scheduler) or cannot read a thread's CPU time.</summary>
    public double? EngineCpuSeconds { get; init; }

    /// <summary>Output tokens per CPU second of the whole process: on a machine other work also loads, what the path
    /// costs, where tokens/s also says how much of the cores it got.</summary>
    public double TokensPerCpuSecond => OutputTokens / CpuSeconds;

    public static RunResult Of(
        string path, IReadOnlyCollection<JobTimeline> jobs, long elapsedTicks, TimeSpan cpu, int slots, LlamaEngineStats engine)
    {
        var done = jobs.Where(j => j.Finished && j.Error is null).ToList();
        return new RunResult(
            path,
            jobs.Count,
            jobs.Count - done.Count,
            done.Sum(j => (long)j.Tokens),
            (double)elapsedTicks / Stopwatch.Frequency,
            cpu.TotalSeconds,
            LatencySummary.Of([.. done.Where(j => j.Tokens > 0).Select(j => j.TtftTicks)]),
            LatencySummary.Of([.. done.Select(j => j.TpotTicks).OfType<long>()]),
            RefillGaps(done, slots),
            engine);
    }

    /// <summary>
    /// From the n-th job to finish to the n-th first token of a job that had to wait for a slot: how long a freed slot
    /// stays without output, its replacement's prefill step included. All jobs are submitted at once, so every finish
    /// while jobs wait frees a slot for the next; under continuous batching the gap is the refill's delay plus one step.
    /// </summary>
    private static LatencySummary RefillGaps(List<JobTimeline> done, int slots)
    {
        var finishes = done.Select(j => j.LastToken).Order().ToList();
        var waitedFirstTokens = done.Select(j => j.FirstToken).Order().Skip(slots).ToList();
        return LatencySummary.Of([.. waitedFirstTokens.Zip(finishes, (first, finish) => first - finish)]);
    }
}
