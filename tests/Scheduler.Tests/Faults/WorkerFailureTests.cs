using System.Globalization;
using Xunit.Abstractions;

namespace Scheduler.Tests.Faults;

/// <summary>A worker node process killed (SIGKILL) while it streams tokens of many jobs.</summary>
[Collection(FaultCollection.Name)]
public sealed class WorkerFailureTests(ITestOutputHelper output)
{
    [Fact]
    public Task WorkerKilledMidStream_EveryJobCompletes_NoTokenRepeatedOrMissing() => FaultCluster.RunAsync(output, async cluster =>
    {
        const int jobs = 300;
        var load = new FaultLoad(cluster, jobs, concurrency: 48, minTokens: 64, maxTokens: 160);
        var killedRunning = 0;
        await load.RunWithFaultAsync(60, async () =>
        {
            // Cost-aware placement packs the cheapest replicas, so a node picked by index may be idle; kill the busiest.
            using var admin = cluster.Admin();
            var busiest = (await admin.ListReplicasAsync())
                .GroupBy(r => r.NodeId)
                .Select(node => (NodeId: node.Key, Running: node.Sum(r => r.RunningSequences)))
                .MaxBy(node => node.Running);
            killedRunning = busiest.Running;
            output.WriteLine($"killing {busiest.NodeId}, running {busiest.Running} sequences");
            cluster.Workers[int.Parse(busiest.NodeId["fault-node-".Length..], CultureInfo.InvariantCulture)].Kill();
        });

        Assert.True(killedRunning > 0, "the killed node ran no job: the fault tested nothing");
        await FaultChecks.EveryJobCompletedExactlyOnce(cluster, load, jobs, output);

        // The streams stayed on their silos: jobs resumed elsewhere from the count already delivered.
        Assert.Equal(0, load.Results.Sum(r => r.Result!.RepeatedTokensDropped));
        Assert.Contains(cluster.Alive().SelectMany(s => s.Output), line => line.Contains("re-queued from replica", StringComparison.Ordinal));

        // Each record's TTFT is when its first token reached the silo (the token event's time), also for a job resumed
        // elsewhere after the kill: measured to its re-dispatch instead, it was seconds late.
        var wrongTtft = new List<string>();
        foreach (var r in load.Results)
        {
            var record = await FaultChecks.ReadRecord(cluster, r.Tenant, r.Result!.JobId);
            var first = r.Result.Events.First(e => e.Tokens is { FirstTokenIndex: 0 });
            var expected = (first.At.ToDateTimeOffset() - record.SubmittedAt.ToDateTimeOffset()).TotalMilliseconds;
            if (Math.Abs(record.Usage.TtftMs - expected) > 1)
            {
                wrongTtft.Add($"{record.JobId}: {record.Usage.TtftMs:F0} ms, its first token came at {expected:F0} ms");
            }
        }

        using var explain = cluster.Admin();
        if (wrongTtft.Count > 0)
        {
            // What the placement did with the first such job, so a failure (seen once, under a CI load of 30) says how.
            var jobId = wrongTtft[0][..wrongTtft[0].IndexOf(':', StringComparison.Ordinal)];
            foreach (var e in (await explain.ExplainJobAsync(jobId)).Events)
            {
                output.WriteLine($"{jobId} {e.At.ToDateTimeOffset():HH:mm:ss.fff} {e.Kind}: {e.Detail}");
            }
        }

        Assert.True(wrongTtft.Count == 0, $"{wrongTtft.Count} jobs report a TTFT other than their first token's, e.g. {wrongTtft.FirstOrDefault()}");

        // A job of the killed node is handed back once: not dispatched again to the dead node's other replica before
        // that one's own hand-back arrived (a dispatch the lost stream refused, and a second hand-back).
        var lostTwice = new List<string>();
        foreach (var r in load.Results)
        {
            var trace = await explain.ExplainJobAsync(r.Result!.JobId);
            if (trace.Events.Count(e => e.Kind == "handed_back" && e.Detail.Contains("node was lost", StringComparison.Ordinal)) > 1)
            {
                lostTwice.Add(r.Result.JobId);
            }
        }

        Assert.True(lostTwice.Count == 0, $"{lostTwice.Count} jobs were handed back by the lost node more than once, e.g. {lostTwice.FirstOrDefault()}");
    }, silos: 2, workers: 3);
}
