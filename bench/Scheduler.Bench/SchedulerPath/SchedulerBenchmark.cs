using Grpc.Core;
using Scheduler.Bench.Harness;
using Scheduler.Protos.V1;

namespace Scheduler.Bench.SchedulerPath;

/// <summary>Phase 2: the real silo with an instant engine, driven through its gRPC front door.</summary>
internal static class SchedulerBenchmark
{
    public static async Task<SchedulerResult> RunAsync(BenchSettings settings, Action<string> log, CancellationToken cancellationToken)
    {
        log("scheduler: starting the silo and its embedded fleet");
        var silo = await EmbeddedSilo.StartAsync(settings, cancellationToken);
        log($"scheduler: listening on {silo.Address}; {EmbeddedSilo.FleetDescription(settings)}");
        try
        {
            return await Measure(silo, settings, log, cancellationToken);
        }
        finally
        {
            log("scheduler: stopping the silo");
            await silo.DisposeAsync();
            log("scheduler: stopped");
        }
    }

    private static async Task<SchedulerResult> Measure(EmbeddedSilo silo, BenchSettings settings, Action<string> log, CancellationToken cancellationToken)
    {
        using var channel = BenchChannels.For(silo.Address);
        var admin = new AdminService.AdminServiceClient(channel);
        var adminAuth = new Metadata { { "authorization", "Bearer " + EmbeddedSilo.AdminKey } };
        await WaitForReplicas(admin, adminAuth, cancellationToken);

        var client = new InferenceService.InferenceServiceClient(channel);
        var caller = new StreamJobCaller(client, EmbeddedSilo.TenantKey, settings.PromptTokens, settings.MaxTokens);
        log($"scheduler: warm-up {settings.JobWarmUp} jobs ({settings.PromptTokens}-token prompt, max_tokens {settings.MaxTokens})");
        await LoadRunner.Sequential(caller.Call, settings.JobWarmUp, cancellationToken);

        log($"scheduler: {settings.Callers} concurrent streams, {settings.WarmUp.TotalSeconds:0} s warm-up + {settings.Duration.TotalSeconds:0} s measured");
        var concurrent = await LoadRunner.Concurrent(caller.Call, settings.Callers, settings.WarmUp, settings.Duration, cancellationToken);

        // The same jobs in flight, submitted over a few StreamJobs calls instead of a call each (issue 12). Run between
        // the two windows of a call per job, so that what grows over the run (the embedded default keeps every settled
        // job in memory, and the collector's work with it) weighs on a window before it and one after.
        log($"scheduler: {settings.Callers} jobs in flight over {settings.MultiplexedStreams} StreamJobs calls, {settings.WarmUp.TotalSeconds:0} s warm-up + {settings.Duration.TotalSeconds:0} s measured");
        PathResult multiplexed;
        await using (var lanes = MultiplexedJobCaller.Open(client, EmbeddedSilo.TenantKey, settings.PromptTokens, settings.MaxTokens, settings.MultiplexedStreams))
        {
            var concurrentOverLanes = await LoadRunner.Concurrent(lanes.Call, settings.Callers, settings.WarmUp, settings.Duration, cancellationToken);

            // And one job at a time over the calls already open (warm from the window): the latency of a job without a
            // call of its own.
            log($"scheduler: {settings.JobSequential} sequential jobs over the open StreamJobs calls");
            multiplexed = new PathResult(await LoadRunner.Sequential(lanes.Call, settings.JobSequential, cancellationToken), concurrentOverLanes);
        }

        // Diagnostic, not a target: the same load spread over several tenants. Each tenant's submissions pass
        // through its own tenant grain one at a time; if this is much faster, that grain is the bottleneck.
        var tenants = EmbeddedSilo.TenantKeys.Select(key => new StreamJobCaller(client, key, settings.PromptTokens, settings.MaxTokens)).ToArray();
        var next = 0;
        Task<CallTiming> Spread(CancellationToken ct) => tenants[(int)((uint)Interlocked.Increment(ref next) % tenants.Length)].Call(ct);
        log($"scheduler: {settings.Callers} concurrent streams spread over {tenants.Length} tenants, {settings.WarmUp.TotalSeconds:0} s warm-up + {settings.Duration.TotalSeconds:0} s measured");
        var spread = await LoadRunner.Concurrent(Spread, settings.Callers, settings.WarmUp, settings.Duration, cancellationToken);

        // The jobs one at a time come last (the echo's calls likewise after its window): timed right after the sequential
        // warm-up, as until 2026-12-04 (step 14 of docs/benchmarks.md), the same jobs read 1,055 µs to their first
        // token; timed here, 552 µs. 2,000 jobs one at a time leave the process short of its steady state (the JIT's
        // optimised tiers, the thread pool and the collector settle under the concurrent load), which a silo serving
        // traffic is in.
        log($"scheduler: front-door probes, {settings.ProbeCalls} sequential SubmitJob and GetJob calls");
        var probes = await FrontDoorProbes.RunAsync(client, StreamJobCaller.BuildRequest(settings.PromptTokens, settings.MaxTokens), settings.ProbeCalls, cancellationToken);

        log($"scheduler: {settings.JobSequential} sequential jobs");
        var reports = new List<JobReport>(settings.JobSequential);
        caller.Sink = reports;
        var sequential = await LoadRunner.Sequential(caller.Call, settings.JobSequential, cancellationToken);
        caller.Sink = null;

        var replicas = await admin.ListReplicasAsync(new ListReplicasRequest(), adminAuth, cancellationToken: cancellationToken);
        return new SchedulerResult(
            new PathResult(sequential, concurrent), ServerTimes.Of(reports), probes, spread, multiplexed, [.. replicas.Replicas.OrderBy(r => r.ReplicaId, StringComparer.Ordinal)]);
    }

    /// <summary>Registration completes before the replicas are necessarily listed; jobs sent earlier would only queue.</summary>
    public static async Task WaitForReplicas(AdminService.AdminServiceClient admin, Metadata auth, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (true)
        {
            var replicas = await admin.ListReplicasAsync(new ListReplicasRequest(), auth, cancellationToken: timeout.Token);
            if (replicas.Replicas.Count >= EmbeddedSilo.ExpectedReplicas)
            {
                return;
            }

            await Task.Delay(100, timeout.Token);
        }
    }
}

/// <summary>The scheduler path's figures, what the scheduler itself reported, and how the load spread.</summary>
internal sealed record SchedulerResult(
    PathResult Path, ServerTimes Server, FrontDoorTimes Probes, ConcurrentSamples Spread, PathResult Multiplexed, IReadOnlyList<Replica> Replicas);

/// <summary>
/// Medians of the times the scheduler reports per job (from its acceptance of the job), over the sequential
/// jobs: they split the client's time to first token into scheduling and front-door/transport.
/// </summary>
internal sealed record ServerTimes(int Jobs, double QueueMsP50, double TtftMsP50, double TotalMsP50, double TokenEventsMean)
{
    public static ServerTimes Of(IReadOnlyList<JobReport> jobs) => new(
        jobs.Count,
        Median(jobs.Select(j => j.Usage.QueueMs)),
        Median(jobs.Select(j => j.Usage.TtftMs)),
        Median(jobs.Select(j => j.Usage.TotalMs)),
        jobs.Count == 0 ? 0 : jobs.Average(j => j.TokenEvents));

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted[(sorted.Length - 1) / 2];
    }
}
