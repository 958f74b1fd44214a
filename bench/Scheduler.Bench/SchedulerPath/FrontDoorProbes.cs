using System.Diagnostics;
using Grpc.Core;
using Scheduler.Bench.Harness;
using Scheduler.Protos.V1;

namespace Scheduler.Bench.SchedulerPath;

/// <summary>
/// Two unary calls through the same front door, to split the job's time to first token: GetJob is
/// authentication plus one grain call (the floor of any front-door call); SubmitJob adds validation and the
/// tenant's acceptance of the job (and returns before it is placed or run).
/// </summary>
internal static class FrontDoorProbes
{
    public static async Task<FrontDoorTimes> RunAsync(InferenceService.InferenceServiceClient client, SubmitJobRequest request, int calls, CancellationToken cancellationToken)
    {
        var auth = new Metadata { { "authorization", "Bearer " + EmbeddedSilo.TenantKey } };
        var jobId = "";
        async Task<CallTiming> Submit(CancellationToken ct)
        {
            var start = Stopwatch.GetTimestamp();
            var job = await client.SubmitJobAsync(request, auth, cancellationToken: ct);
            var elapsed = Stopwatch.GetTimestamp() - start;
            jobId = job.JobId;

            // Follow the job to its end before the next submission, so that each SubmitJob meets a scheduler with no
            // job in flight, back to back as the sequential StreamJob calls do. A fixed pause here (2 ms until
            // 2026-12-06) let the thread pool's threads park, so every submission paid their wake-ups and read about
            // twice what it costs (docs/benchmarks.md, after step 15).
            using var watch = client.WatchJob(new WatchJobRequest { JobId = job.JobId }, auth, cancellationToken: ct);
            while (await watch.ResponseStream.MoveNext(ct))
            {
            }

            return CallTiming.Unary(elapsed);
        }

        async Task<CallTiming> Get(CancellationToken ct)
        {
            var start = Stopwatch.GetTimestamp();
            await client.GetJobAsync(new GetJobRequest { JobId = jobId }, auth, cancellationToken: ct);
            return CallTiming.Unary(Stopwatch.GetTimestamp() - start);
        }

        var submit = await LoadRunner.Sequential(Submit, calls, cancellationToken);
        await LoadRunner.Sequential(Get, calls / 4, cancellationToken);
        var get = await LoadRunner.Sequential(Get, calls, cancellationToken);
        return new FrontDoorTimes(calls, submit.Total, get.Total);
    }
}

/// <summary>Sequential latencies of the unary front-door probes.</summary>
internal sealed record FrontDoorTimes(int Calls, LatencySummary SubmitJob, LatencySummary GetJob);
