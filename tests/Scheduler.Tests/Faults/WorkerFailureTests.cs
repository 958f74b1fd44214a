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
        await load.RunWithFaultAsync(60, () =>
        {
            cluster.Workers[0].Kill();
            return Task.CompletedTask;
        });

        await FaultChecks.EveryJobCompletedExactlyOnce(cluster, load, jobs, output);

        // The streams stayed on their silos: jobs resumed elsewhere from the count already delivered.
        Assert.Equal(0, load.Results.Sum(r => r.Result!.RepeatedTokensDropped));
        Assert.Contains(cluster.Alive().SelectMany(s => s.Output), line => line.Contains("re-queued from replica", StringComparison.Ordinal));
    }, silos: 2, workers: 3);
}
