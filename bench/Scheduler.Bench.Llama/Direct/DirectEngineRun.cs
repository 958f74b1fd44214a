using System.Diagnostics;
using Scheduler.Bench.Llama.Workload;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines.Llama;
using Scheduler.Worker.Hosting;

namespace Scheduler.Bench.Llama.Direct;

/// <summary>
/// Runs the workload on a <see cref="LlamaEngine"/> built from the bench node's options, with no scheduler: this
/// driver admits the jobs itself under a <see cref="Batching"/> discipline, never more than the replica's slots at
/// once, and reads the engine's step reports. Both disciplines drive the same engine code; only when a job may join
/// differs.
/// </summary>
/// <remarks>
/// The driver runs the engine's steps itself, back to back on one thread of its own (the body of the engine's step
/// loop, <see cref="LlamaEngine.Step"/>), and admits between two steps: a freed slot is refilled before the next decode,
/// with no thread hop in between. That thread's CPU time is what the engine's steps cost, whatever share of a core
/// the machine gave it.
/// </remarks>
internal static class DirectEngineRun
{
    public static async Task<RunResult> RunAsync(
        string name, WorkerNodeOptions options, Batching batching, IReadOnlyList<BenchJob> jobs, CancellationToken cancellationToken)
    {
        using var direct = new DirectEngine(options);
        return await DirectEngine.RunOnOwnThread(
            () => Drive(name, direct.Engine, direct.Sink, direct.Slots, batching, jobs, cancellationToken), cancellationToken);
    }

    private static RunResult Drive(
        string name, LlamaEngine engine, TimestampedSink sink, int slots, Batching batching, IReadOnlyList<BenchJob> jobs, CancellationToken cancellationToken)
    {
        var waiting = new Queue<BenchJob>(jobs);
        var started = Stopwatch.GetTimestamp();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var engineCpuBefore = ThreadCpu.Seconds();
        var timelines = jobs.ToDictionary(j => j.Id, j => new JobTimeline(j, started));

        // The engine's own wall time in its steps (decode and sampling), whatever waiting for a core added.
        var stepMs = 0.0;
        var running = Admit(engine, waiting, slots);
        while (running > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (engine.Step() is null)
            {
                throw new InvalidOperationException($"The engine had nothing to do while {running} jobs were running.");
            }

            while (sink.Reports.TryRead(out var published))
            {
                var (report, at) = published;
                stepMs += report.StepMs;
                foreach (var tokens in report.Tokens)
                {
                    timelines[tokens.SequenceId].Record(tokens.TokenCount, at);
                }

                foreach (var finished in report.Finished)
                {
                    timelines[finished.SequenceId].Finish(finished.Reason is FinishReason.Length or FinishReason.Stop ? null : finished.Reason.ToString());
                    running--;
                }
            }

            // Continuous: every freed slot is filled before the next step. Request level: only an empty replica takes a new batch.
            if (batching == Batching.Continuous || running == 0)
            {
                running += Admit(engine, waiting, slots - running);
            }
        }

        var elapsed = Stopwatch.GetTimestamp() - started;
        var engineCpu = ThreadCpu.Seconds() - engineCpuBefore;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        return RunResult.Of(name, timelines.Values, elapsed, cpu, slots, engine.Stats) with
        {
            StepMs = stepMs,
            EngineCpuSeconds = ThreadCpu.Available ? engineCpu : null,
        };
    }

    private static int Admit(LlamaEngine engine, Queue<BenchJob> waiting, int free)
    {
        var batch = new List<SequenceSpec>();
        while (batch.Count < free && waiting.TryDequeue(out var job))
        {
            batch.Add(JobMix.Spec(job));
        }

        if (batch.Count > 0)
        {
            engine.Admit(batch);
        }

        return batch.Count;
    }
}
