using Xunit.Abstractions;

namespace Scheduler.Tests.Faults;

/// <summary>A worker node process killed (SIGKILL) while it streams tokens of many jobs.</summary>
[Collection(FaultCollection.Name)]
public sealed class WorkerFailureTests(ITestOutputHelper output)
{
    [Fact]
    public async Task WorkerKilledMidStream_EveryJobCompletes_NoTokenRepeatedOrMissing()
    {
        await using var cluster = await FaultCluster.StartAsync(output, silos: 2, workers: 3);
        const int jobs = 300;
        var load = new FaultLoad(cluster, jobs, concurrency: 48, minTokens: 64, maxTokens: 160);
        try
        {
            var run = load.RunAsync(TimeSpan.FromMinutes(4));
            await load.WhenCompleted(60, TimeSpan.FromMinutes(2));
            cluster.Workers[0].Kill();
            await run;

            await FaultChecks.EveryJobCompletedExactlyOnce(cluster, load, jobs, output);

            // The streams stayed on their silos: jobs resumed elsewhere from the count already delivered.
            Assert.Equal(0, load.Results.Sum(r => r.Result!.RepeatedTokensDropped));
            Assert.Contains(cluster.Alive().SelectMany(s => s.Output), line => line.Contains("re-queued from replica", StringComparison.Ordinal));
        }
        catch
        {
            cluster.DumpLogs();
            throw;
        }
    }
}
