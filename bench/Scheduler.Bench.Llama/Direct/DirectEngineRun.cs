using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
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
internal static class DirectEngineRun
{
    public static async Task<RunResult> RunAsync(
        string name, WorkerNodeOptions options, Batching batching, IReadOnlyList<BenchJob> jobs, CancellationToken cancellationToken)
    {
        using var inventory = NodeInventory.Create(options);
        var replica = inventory.Replicas.Single();
        var sink = new TimestampedSink();
        using var engine = new LlamaEngine(
            replica.ReplicaId, replica.EngineProfile, replica.Llama!, replica.MaxContextTokens, sink, TimeProvider.System, NullLogger<LlamaEngine>.Instance);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        // The step loop blocks in decode calls: it gets a thread of its own, as on a node.
        var loop = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        try
        {
            var slots = replica.EngineProfile.MaxSequences;
            var waiting = new Queue<BenchJob>(jobs);
            var started = Stopwatch.GetTimestamp();
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var timelines = jobs.ToDictionary(j => j.Id, j => new JobTimeline(j, started));
            var running = 0;

            // The engine's own time in its steps (decode and sampling), whatever waiting for a core or for work added.
            var stepMs = 0.0;
            running += Admit(engine, waiting, slots);
            while (running > 0)
            {
                var (report, at) = await sink.Reports.ReadAsync(stop.Token);
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

                // Continuous: every freed slot is filled at once. Request level: only an empty replica takes a new batch.
                if (batching == Batching.Continuous || running == 0)
                {
                    running += Admit(engine, waiting, slots - running);
                }
            }

            var elapsed = Stopwatch.GetTimestamp() - started;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            return RunResult.Of(name, timelines.Values, elapsed, cpu, slots, engine.Stats) with { StepMs = stepMs };
        }
        finally
        {
            await stop.CancelAsync();
            await loop.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static int Admit(LlamaEngine engine, Queue<BenchJob> waiting, int free)
    {
        var batch = new List<SequenceSpec>();
        while (batch.Count < free && waiting.TryDequeue(out var job))
        {
            batch.Add(new SequenceSpec
            {
                SequenceId = job.Id,
                Prompt = JobMix.Prompt,
                MaxTokens = job.MaxTokens,
                Temperature = JobMix.Temperature,
                Seed = job.Seed,
            });
        }

        if (batch.Count > 0)
        {
            engine.Admit(batch);
        }

        return batch.Count;
    }
}
