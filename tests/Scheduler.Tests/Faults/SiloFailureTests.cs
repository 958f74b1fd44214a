using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using Xunit.Abstractions;

namespace Scheduler.Tests.Faults;

/// <summary>Silos killed (SIGKILL) or stopped (SIGTERM) under load, on a Redis cluster of three silo processes.</summary>
[Collection(SiloFaultCollection.Name)]
public sealed class SiloFailureTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public Task SiloHoldingThePlacementKilledUnderLoad_EveryAcceptedJobCompletesOnce(bool overStreamJobs) => FaultCluster.RunAsync(output, async cluster =>
    {
        // A job a call (FailoverJobRunner), or many jobs over one StreamJobs call per tenant and silo (MultiplexedJobRunner).
        const int jobs = 1000;
        var load = new FaultLoad(cluster, jobs, concurrency: 48, minTokens: 8, maxTokens: 40, multiplexed: overStreamJobs);

        // The hardest silo to lose: the one holding the model's placement (its queue and running batches).
        var victim = PlacementHost(cluster);
        var killedAt = await load.RunWithFaultAsync(250, () =>
        {
            victim.Kill();
            return Task.CompletedTask;
        });

        await FaultChecks.EveryJobCompletedExactlyOnce(cluster, load, jobs, output);
        ReportRecovery(load, killedAt, $"kill -9 of silo {victim.Index} (the placement's), clients {(overStreamJobs ? "over StreamJobs calls" : "a call per job")}");
        // A survivor rebuilt the placement (it may itself have been evicted since, which the product survives too).
        Assert.Contains(cluster.Silos.Where(s => s != victim).SelectMany(s => s.Output), line => line.Contains("rebuilt", StringComparison.Ordinal));
    });

    [Fact]
    public Task TwoSilosLostOneAfterTheOther_EveryAcceptedJobCompletesOnce() => FaultCluster.RunAsync(output, async cluster =>
    {
        // What a loaded cluster can meet: the placement's silo crashes, and once it is voted out, failure detection
        // wrongly evicts one of the survivors while they recover (with two silos left, one vote evicts). One silo
        // carries on alone. (Two silos of three lost before either is voted out is a lost majority: Orleans then
        // cannot gather the votes to evict them, and no silo count of three survives that.)
        const int jobs = 600;
        var load = new FaultLoad(cluster, jobs, concurrency: 48, minTokens: 8, maxTokens: 40);
        var first = PlacementHost(cluster);
        var killedAt = await load.RunWithFaultAsync(150, async () =>
        {
            first.Kill();
            // Not by Alive(): a killed process may not have been reaped yet.
            var survivor = cluster.Silos.First(s => s != first);
            await Polling.Until(async () => await ClusterSize.ReadAsync(survivor.HttpAddress) == 2,
                $"silo {survivor.Index} counts two active silos", TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(200));
            await load.WhenCompleted(Math.Min(jobs, load.Completed + 30), TimeSpan.FromMinutes(2));

            // Failure detection may have evicted the other survivor already (a CI machine stalled it past the probes;
            // ci4 of 2026-12-04): two silos are then lost as the test intends, and killing this one would leave none.
            if (await EvictedMeanwhile(survivor))
            {
                output.WriteLine("the other survivor was evicted by failure detection meanwhile: silo " + survivor.Index + " carries on alone");
            }
            else
            {
                survivor.Kill();
            }
        });

        // An evicted silo stops itself once it reads its eviction.
        await Polling.Until(() => Task.FromResult(cluster.Alive().Count() == 1), "one silo is left", TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(200));
        Assert.Single(cluster.Alive());
        await FaultChecks.EveryJobCompletedExactlyOnce(cluster, load, jobs, output);
        ReportRecovery(load, killedAt, $"kill -9 of silo {first.Index} (the placement's), then of a survivor");
    },
    // While two silos are left, one suspicion evicts (Orleans needs min(2, (active + 1) / 2) votes): a survivor stalled
    // past 3 missed probes by a loaded CI machine (ci16: the third silo evicted itself before the second kill) would end
    // the test with no silo. This test is about losing two silos, not about false suspicion, so it allows 6 of 2 s each
    // (ci4 of 2026-12-04 saw 6 of 1 s missed), and skips its second kill if detection evicted a survivor anyway.
    siloSettings: ["--Scheduler:MissedProbesLimit=6", "--Scheduler:ProbeTimeout=00:00:02"]);

    /// <summary>True when <paramref name="survivor"/> no longer counts two active silos: the other one was voted out.</summary>
    private static async Task<bool> EvictedMeanwhile(SiloProcess survivor) =>
        await ClusterSize.ReadAsync(survivor.HttpAddress) is < 2;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public Task SiloSigtermUnderLoad_DrainsAndExitsCleanly_ZeroFailedJobs(bool overStreamJobs) => FaultCluster.RunAsync(output, async cluster =>
    {
        // A job a call (FailoverJobRunner), or many jobs over one StreamJobs call per tenant and silo (MultiplexedJobRunner).
        const int jobs = 600;
        var load = new FaultLoad(cluster, jobs, concurrency: 48, minTokens: 8, maxTokens: 40, multiplexed: overStreamJobs);
        var victim = PlacementHost(cluster);
        var exitedAt = TimeSpan.Zero;
        var stoppedAt = await load.RunWithFaultAsync(150, async () =>
        {
            victim.Terminate();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await victim.WaitForExitAsync(exit.Token);
            exitedAt = load.Elapsed;
        });

        Assert.Equal(0, victim.ExitCode);
        await FaultChecks.EveryJobCompletedExactlyOnce(cluster, load, jobs, output);
        output.WriteLine($"silo {victim.Index} drained and exited with code 0 in {(exitedAt - stoppedAt).TotalSeconds:0.0} s");
        ReportRecovery(load, stoppedAt, $"SIGTERM of silo {victim.Index} (the placement's), clients {(overStreamJobs ? "over StreamJobs calls" : "a call per job")}");
    });

    [Fact]
    public Task Resubmission_DuringAndAfterFailover_ReturnsTheSameJobs() => FaultCluster.RunAsync(output, async cluster =>
    {
        const int jobs = 200;
        var runId = Guid.NewGuid().ToString("N")[..8];
        var first = await SubmitAll(cluster, runId, jobs);
        var victim = PlacementHost(cluster);
        victim.Kill();

        // At once, while the cluster has not yet noticed: retries ride through the failover.
        var during = await SubmitAll(cluster, runId, jobs);
        Assert.Equal(first, during);

        await WaitAllCompleted(cluster, first, TimeSpan.FromMinutes(2));
        var after = await SubmitAll(cluster, runId, jobs);
        Assert.Equal(first, after);
        Assert.Equal(jobs, first.Distinct().Count());
        output.WriteLine($"{jobs} idempotency keys resubmitted during and after the kill of silo {victim.Index}: {jobs} jobs, no duplicate");
    });

    /// <summary>The silo that most recently activated the model's placement, as its log says.</summary>
    internal static SiloProcess PlacementHost(FaultCluster cluster)
    {
        var marker = $"Placement of {FaultCluster.Model} active";
        return cluster.Alive().Single(s => s.Output.Any(line => line.Contains(marker, StringComparison.Ordinal)));
    }

    private void ReportRecovery(FaultLoad load, TimeSpan failedAt, string what)
    {
        var finishedAfter = load.Results.Where(r => r.Finished >= failedAt).Select(r => r.Finished).Order().ToList();
        var firstNew = load.Results.Where(r => r.Started >= failedAt && r.Result is { Succeeded: true }).Select(r => r.Finished).DefaultIfEmpty(TimeSpan.MaxValue).Min();
        var gaps = finishedAfter.Prepend(failedAt).Zip(finishedAfter, (a, b) => b - a);
        var longestGap = gaps.DefaultIfEmpty(TimeSpan.Zero).Max();
        output.WriteLine($"{what}: first job submitted after it completed {(firstNew - failedAt).TotalSeconds:0.00} s later; " +
            $"longest pause between completions after it {longestGap.TotalSeconds:0.00} s; load took {load.Elapsed.TotalSeconds:0.0} s");
    }

    private static async Task<string[]> SubmitAll(FaultCluster cluster, string runId, int jobs)
    {
        var ids = new string[jobs];
        await Parallel.ForEachAsync(Enumerable.Range(0, jobs), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var tenant = FaultCluster.Tenants[i % FaultCluster.Tenants.Length];
            var request = new SubmitJobRequest { Model = FaultCluster.Model, Prompt = $"idempotent {i}", MaxTokens = 8, IdempotencyKey = FaultLoad.KeyOf(runId, i) };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            for (var attempt = 0; ; attempt++)
            {
                var silo = cluster.Silos[(i + attempt) % cluster.Silos.Count];
                try
                {
                    using var client = new SchedulerClient(silo.Address, tenant.Key);
                    ids[i] = (await client.SubmitAsync(request, DateTime.UtcNow.AddSeconds(10), ct)).JobId;
                    return;
                }
                catch (Grpc.Core.RpcException ex) when (ex.StatusCode is Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.DeadlineExceeded
                    or Grpc.Core.StatusCode.Internal or Grpc.Core.StatusCode.Unknown && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(100, ct);
                }
            }
        });
        return ids;
    }

    private static async Task WaitAllCompleted(FaultCluster cluster, string[] ids, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        for (var i = 0; i < ids.Length; i++)
        {
            using var client = cluster.Tenant(i % FaultCluster.Tenants.Length);
            while ((await client.GetAsync(ids[i])).Status != JobStatus.Completed)
            {
                Assert.True(DateTime.UtcNow < deadline, $"job {ids[i]} did not complete within {timeout}");
                await Task.Delay(100);
            }
        }
    }
}
