using System.Diagnostics;
using Scheduler.Bench.Llama.Workload;
using Scheduler.Protos.V1;
using Scheduler.Worker.Engines.Llama;
using Scheduler.Worker.Hosting;

namespace Scheduler.Bench.Llama.Direct;

/// <summary>
/// What one engine step costs by how many sequences it decodes: 1, 2, 4, … up to the replica's slots, each size
/// decoding <see cref="MeasuredSteps"/> steps of one token per sequence at a short context (the prompt and a few dozen
/// tokens), on the engine driven directly. The engine thread's CPU time per step says the regime: a step that costs
/// about the same with 16 sequences as with one is bound by reading the weights, and batching amortises it; one that
/// costs 16× is bound by computing, and batching saves nothing. Run first, it also warms the code up (JIT) for the paths.
/// </summary>
internal static class DecodeCostSweep
{
    /// <summary>The prefill step and a few decode steps before measuring, so every sequence decodes in every measured step.</summary>
    private const int WarmSteps = 4;

    private const int MeasuredSteps = 64;

    public static async Task<IReadOnlyList<DecodeCost>> RunAsync(WorkerNodeOptions options, CancellationToken cancellationToken)
    {
        using var direct = new DirectEngine(options);
        return await DirectEngine.RunOnOwnThread(
            () => Sizes(direct.Slots).Select(size => Measure(direct.Engine, direct.Sink, size, cancellationToken)).ToList(),
            cancellationToken);
    }

    /// <summary>1, 2, 4, … and the slots themselves.</summary>
    private static IEnumerable<int> Sizes(int slots)
    {
        for (var size = 1; size < slots; size *= 2)
        {
            yield return size;
        }

        yield return slots;
    }

    private static DecodeCost Measure(LlamaEngine engine, TimestampedSink sink, int sequences, CancellationToken cancellationToken)
    {
        engine.Admit(Enumerable.Range(0, sequences).Select(i => JobMix.Spec(new BenchJob($"sweep-{sequences}-{i}", WarmSteps + MeasuredSteps + 1, (ulong)(i + 1)))));
        Steps(engine, sink, WarmSteps, cancellationToken);

        var before = engine.Stats;
        var cpu = ThreadCpu.Seconds();
        var wall = Stopwatch.GetTimestamp();
        Steps(engine, sink, MeasuredSteps, cancellationToken);
        var wallMs = Stopwatch.GetElapsedTime(wall).TotalMilliseconds;
        var cpuMs = (ThreadCpu.Seconds() - cpu) * 1000;
        var after = engine.Stats;

        // The sequences leave, and the next step frees their KV cells.
        engine.CancelAllSilently();
        engine.Step();
        while (sink.Reports.TryRead(out _))
        {
        }

        var decodes = after.Decodes - before.Decodes;
        return new DecodeCost((double)(after.BatchedSequences - before.BatchedSequences) / decodes, cpuMs / decodes, wallMs / decodes);
    }

    private static void Steps(LlamaEngine engine, TimestampedSink sink, int count, CancellationToken cancellationToken)
    {
        for (var i = 0; i < count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            engine.Step();
            while (sink.Reports.TryRead(out _))
            {
            }
        }
    }
}

/// <summary>One size of the sweep: the mean sequences per decode call, and a call's engine-thread CPU and wall milliseconds.</summary>
internal sealed record DecodeCost(double Sequences, double CpuMsPerDecode, double WallMsPerDecode);
