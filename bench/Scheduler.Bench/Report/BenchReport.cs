using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using Scheduler.Bench.Harness;
using Scheduler.Bench.SchedulerPath;

namespace Scheduler.Bench.Report;

/// <summary>The run's results as markdown: printed to the console and written to the --out file.</summary>
internal static class BenchReport
{
    public static string Markdown(BenchSettings settings, PathResult echo, SchedulerResult scheduler, DateTimeOffset startedAt, string loadBefore, string loadAfter)
    {
        var s = scheduler.Path;
        var md = new StringBuilder();
        md.AppendLine("# Scheduler overhead benchmark").AppendLine();
        md.AppendLine($"Run {startedAt:yyyy-MM-dd HH:mm} UTC · {Environment.ProcessorCount} logical cores · {RuntimeInformation.OSDescription} · " +
                      $"{RuntimeInformation.FrameworkDescription} · {(GCSettings.IsServerGC ? "server" : "workstation")} GC · client and servers in one process on loopback · " +
                      $"1-min load average {loadBefore} before, {loadAfter} after");
        md.AppendLine();
        md.AppendLine($"Echo: unary `bench.v1.Echo/Ping`, {settings.EchoPayloadBytes}-byte payload, {settings.EchoSequentialCalls:#,0} sequential calls after {settings.EchoWarmUpCalls:#,0} warm-up. " +
                      $"Scheduler: `StreamJob`, {settings.PromptTokens} prompt token ids, max_tokens {settings.MaxTokens}, {settings.JobSequential:#,0} sequential jobs after {settings.JobWarmUp:#,0} warm-up; " +
                      $"fleet {EmbeddedSilo.FleetDescription(settings)}, placement policy {settings.Placement}. Concurrent: {settings.Callers} callers, {settings.WarmUp.TotalSeconds:0} s warm-up + {settings.Duration.TotalSeconds:0} s measured.");
        md.AppendLine();

        md.AppendLine($"| path | seq p50 | seq p90 | seq p99 | seq max | {settings.Callers} concurrent | under load p50 | under load p99 | failed |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        Row(md, "echo call", echo.Sequential.Total, echo.Concurrent.Total, Format.Rate(echo.Concurrent.PerSecond) + " calls", echo.Concurrent.Failed);
        Row(md, "job: first token (TTFT)", s.Sequential.First, s.Concurrent.First, Format.Rate(s.Concurrent.PerSecond) + " jobs", s.Concurrent.Failed);
        Row(md, "job: completion", s.Sequential.Total, s.Concurrent.Total, "", null);
        var spread = scheduler.Spread;
        md.AppendLine($"| job TTFT, load spread over {EmbeddedSilo.TenantKeys.Count} tenants (diagnostic) | | | | | {Format.Rate(spread.PerSecond)} jobs | " +
                      $"{Format.Us(spread.First.P50Us)} | {Format.Us(spread.First.P99Us)} | {spread.Failed:#,0} |");
        var multiplexed = scheduler.Multiplexed.Concurrent;
        Row(md, $"job TTFT over {settings.MultiplexedStreams} open `StreamJobs` calls ({settings.Callers} in flight when concurrent)", scheduler.Multiplexed.Sequential.First,
            multiplexed.First, Format.Rate(multiplexed.PerSecond) + " jobs", multiplexed.Failed);
        md.AppendLine();

        // CPU time of the whole process (client + server) per call says what a call costs, which the latency
        // figures alone cannot tell apart from waiting; cores busy says whether the concurrent run was CPU-bound.
        // Bytes allocated per call is the one cost here that does not move with the share of the cores a run got.
        md.AppendLine("| path | CPU per call, sequential | CPU per call, concurrent | bytes allocated per call, concurrent | cores busy, concurrent |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        Cpu(md, "echo call", echo);
        Cpu(md, "job", s);
        md.AppendLine($"| job, spread over {EmbeddedSilo.TenantKeys.Count} tenants | | {Format.Us(spread.CpuPerCallUs)} | {Format.Bytes(spread.BytesPerCall)} | " +
                      $"{Format.Number(spread.CoresBusy)} of {Environment.ProcessorCount} |");
        Cpu(md, $"job, over {settings.MultiplexedStreams} open `StreamJobs` calls", scheduler.Multiplexed);
        md.AppendLine();

        md.AppendLine("| DESIGN.md target | measured | target | |");
        md.AppendLine("|---|---:|---:|---|");
        foreach (var r in Ratio.Of(echo, s, scheduler.Multiplexed, settings.MultiplexedStreams))
        {
            md.AppendLine($"| {r.Name} | {Format.Number(r.Value)} | {r.Target} | {(r.Met ? "met" : "**missed**")} |");
        }

        md.AppendLine();
        AppendServerTimes(md, scheduler.Server, s.Sequential.First);
        AppendProbes(md, scheduler.Probes, echo.Sequential.Total);
        AppendReplicas(md, scheduler);
        AppendErrors(md, echo.Concurrent, s.Concurrent, spread, multiplexed);
        return md.ToString();
    }

    private static void Row(StringBuilder md, string name, LatencySummary seq, LatencySummary load, string rate, long? failed) =>
        md.AppendLine($"| {name} | {Format.Us(seq.P50Us)} | {Format.Us(seq.P90Us)} | {Format.Us(seq.P99Us)} | {Format.Us(seq.MaxUs)} | {rate} | " +
                      $"{Format.Us(load.P50Us)} | {Format.Us(load.P99Us)} | {(failed is { } f ? f.ToString("#,0", Format.Culture) : "")} |");

    private static void Cpu(StringBuilder md, string name, PathResult path) =>
        md.AppendLine($"| {name} | {Format.Us(path.Sequential.CpuPerCallUs)} | {Format.Us(path.Concurrent.CpuPerCallUs)} | {Format.Bytes(path.Concurrent.BytesPerCall)} | " +
                      $"{Format.Number(path.Concurrent.CoresBusy)} of {Environment.ProcessorCount} |");

    private static void AppendServerTimes(StringBuilder md, ServerTimes server, LatencySummary clientTtft)
    {
        md.AppendLine($"Scheduler-reported medians over the {server.Jobs} sequential jobs (measured from when the tenant grain takes the job, " +
                      $"so authentication before it and the delivery of the event to the client after it are not included): queue {Format.Ms(server.QueueMsP50)}, " +
                      $"first token {Format.Ms(server.TtftMsP50)}, completion {Format.Ms(server.TotalMsP50)}; " +
                      $"client-observed TTFT p50 {Format.Ms(clientTtft.P50Us / 1000)}. " +
                      $"TokenChunk messages per job: {Format.Number(server.TokenEventsMean, "0.0")}.");
        md.AppendLine();
    }

    private static void AppendProbes(StringBuilder md, FrontDoorTimes probes, LatencySummary echo)
    {
        md.AppendLine($"| unary probe ({probes.Calls:#,0} sequential) | p50 | p99 | p50 ÷ echo p50 |");
        md.AppendLine("|---|---:|---:|---:|");
        md.AppendLine($"| GetJob: auth + one grain call | {Format.Us(probes.GetJob.P50Us)} | {Format.Us(probes.GetJob.P99Us)} | {Format.Number(probes.GetJob.P50Us / echo.P50Us)} |");
        md.AppendLine($"| SubmitJob: auth + validation + tenant accepts the job | {Format.Us(probes.SubmitJob.P50Us)} | {Format.Us(probes.SubmitJob.P99Us)} | {Format.Number(probes.SubmitJob.P50Us / echo.P50Us)} |");
        md.AppendLine();
    }

    private static void AppendReplicas(StringBuilder md, SchedulerResult scheduler)
    {
        md.AppendLine("| replica (whole scheduler phase) | product | admissions | into a running batch | peak sequences |");
        md.AppendLine("|---|---|---:|---:|---:|");
        foreach (var r in scheduler.Replicas)
        {
            md.AppendLine($"| {r.ReplicaId} | {r.Product} | {r.Admissions:#,0} | {r.AdmissionsIntoRunningBatch:#,0} | {r.EnginePeakSequences} |");
        }

        md.AppendLine();
    }

    private static void AppendErrors(StringBuilder md, ConcurrentSamples echo, ConcurrentSamples scheduler, ConcurrentSamples spread, ConcurrentSamples multiplexed)
    {
        foreach (var (name, samples) in new[] { ("echo", echo), ("scheduler", scheduler), ("scheduler, spread over tenants", spread), ("scheduler, StreamJobs", multiplexed) })
        {
            if (samples.FirstError is { } error)
            {
                md.AppendLine($"{name}: {samples.Failed:#,0} calls failed in the measured window; first error: `{error}`").AppendLine();
            }
        }
    }
}
