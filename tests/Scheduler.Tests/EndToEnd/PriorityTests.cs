using Scheduler.Client;
using Scheduler.Protos.V1;
using Xunit.Abstractions;

namespace Scheduler.Tests.EndToEnd;

/// <summary>Strict priority between classes on the live cluster: real gRPC, a real worker process, real engine steps.
/// Alone, on a cluster of its own (<see cref="LatencyMeasurementCollection"/>): its standard traffic must fill the
/// replica's KV cache within the seconds it is given, which a machine busy with a fault test's processes once did not
/// (ci126: the critical job found two jobs running and was admitted at once, with nothing to set aside).</summary>
[Collection(LatencyMeasurementCollection.Name)]
public sealed class PriorityTests(SchedulerCluster cluster, ITestOutputHelper output) : IClassFixture<SchedulerCluster>
{
    // A 4,000-token KV cache: eight standard jobs of 500 tokens fill it, and the ten submitters keep two more queued.
    private const int KvCapacityTokens = 4_000;
    private const int Submitters = 10;
    private static readonly TimeSpan s_traffic = TimeSpan.FromSeconds(24);
    private static int s_prompts;

    [Fact]
    public async Task ALargeCriticalJob_UnderSteadyStandardTraffic_RunsOnceItsReplicaDrains_NotAfterTheTrafficStops()
    {
        const string node = "priority-node";
        await using var worker = WorkerProcess.Start(node, cluster.Address, "4", SchedulerCluster.FairModel,
            [$"--Worker:Accelerators:0:KvCapacityTokens={KvCapacityTokens}"], environment: null, ("L4", 1, 16));
        await cluster.WaitForNode(node, SchedulerCluster.FairModel);
        using var client = cluster.Tenant(0);

        // Standard traffic that keeps the KV cache full: as each job ends, a queued one fits the 500 tokens it freed.
        var stopAt = DateTime.UtcNow + s_traffic;
        var traffic = Task.WhenAll(Enumerable.Range(0, Submitters).Select(_ => SubmitUntil(client, stopAt)));
        await Task.Delay(TimeSpan.FromSeconds(4));

        // 2,008 tokens: it fits only once four of the running jobs end with nothing taking their room, and no single
        // stop would make room for it (500 tokens a victim).
        var critical = new SubmitJobRequest { Model = SchedulerCluster.FairModel, MaxTokens = 8, Priority = Priority.Critical };
        critical.PromptTokenIds.AddRange(Prompt(2_000));
        var result = await client.RunAsync(critical, deadline: stopAt.AddSeconds(30));
        var criticalDoneAt = DateTime.UtcNow;
        var standard = await traffic;

        Assert.True(result.Succeeded, result.Error);
        var job = await client.GetAsync(result.JobId);
        var completedAfter = standard.SelectMany(s => s).Count(t => t > criticalDoneAt);
        output.WriteLine($"critical job: queued {job.Usage.QueueMs:F0} ms, first token {job.Usage.TtftMs:F0} ms; " +
            $"{standard.Sum(s => s.Count)} standard jobs completed, {completedAfter} after it; traffic ran {s_traffic.TotalSeconds:F0} s");

        // Left to backfilling, the standard jobs would take each 500 tokens freed until the traffic stopped, 20 s after
        // the critical job came; with a replica set aside for it, it waits for the running jobs to end (about 2 s here).
        Assert.True(job.Usage.TtftMs < 10_000, $"the critical job waited {job.Usage.TtftMs:F0} ms for its first token");
        Assert.True(completedAfter > 0, "the standard traffic did not go on after the critical job");
        using var admin = cluster.Admin();
        var explanation = await admin.ExplainJobAsync(result.JobId);
        Assert.Contains(explanation.Events, e => e.Reason == "replica_set_aside_for_it");
    }

    // Runs standard jobs one after another until stopAt; returns when each completed.
    private static async Task<List<DateTime>> SubmitUntil(SchedulerClient client, DateTime stopAt)
    {
        var completed = new List<DateTime>();
        while (DateTime.UtcNow < stopAt)
        {
            var request = new SubmitJobRequest { Model = SchedulerCluster.FairModel, MaxTokens = 100 };
            request.PromptTokenIds.AddRange(Prompt(400));
            var run = await client.RunAsync(request, deadline: stopAt.AddSeconds(30));
            Assert.True(run.Succeeded, run.Error);
            completed.Add(DateTime.UtcNow);
        }

        return completed;
    }

    // A prompt of its own, so the engine's prefix cache does not serve it.
    private static IEnumerable<int> Prompt(int tokens) => [Interlocked.Increment(ref s_prompts), .. Enumerable.Range(1, tokens - 1)];
}
