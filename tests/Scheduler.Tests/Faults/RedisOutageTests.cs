using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Tests.EndToEnd;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Scheduler.Tests.Faults;

/// <summary>
/// Redis unreachable while a job ends: the token path does not need it, so the client still gets the whole job, but
/// the job's record cannot be written then. The record keeps the outcome and writes it once Redis answers again, so
/// the job leaves its model's journal and a failover later would not run it a second time. A write that timed out in
/// the stall may still be applied when Redis goes on; the grains that wrote it must not be locked out of their state by
/// the version it left: the tenant's counts, written every interval, reach Redis and outlive the silo.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class RedisOutageTests(ITestOutputHelper output)
{
    private const string AdminKey = "outage-admin-key";
    private const string TenantId = "outage-tenant";
    private const string TenantKey = "outage-tenant-key";
    private const int MaxTokens = 400;
    private static readonly TimeSpan TenantWriteInterval = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task JobEndingWhileRedisIsUnreachable_IsRecordedOnceRedisAnswers_AndLeavesTheJournal()
    {
        await using var redis = await RedisServer.StartAsync();
        var serviceId = "outage-" + Guid.NewGuid().ToString("N")[..8];
        string[] args =
        [
            "--Scheduler:Clustering=redis", $"--Scheduler:Redis={redis.Endpoint}",
            $"--Scheduler:ClusterId={serviceId}", $"--Scheduler:ServiceId={serviceId}",
            $"--Scheduler:AdminApiKey={AdminKey}", $"--Scheduler:NodeToken={SchedulerCluster.NodeToken}",
            $"--Scheduler:Tenants:0:Id={TenantId}", $"--Scheduler:Tenants:0:ApiKey={TenantKey}",
            $"--Scheduler:Scheduling:TenantStateWriteInterval={TenantWriteInterval}",
            // Orleans' own errors during the stall (every Redis timeout with its stack) would fill the kept output.
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Orleans=Critical", "--Logging:LogLevel:Scheduler=Information",
        ];
        await using var silo = SiloProcess.Start(0, args);
        try
        {
            await FaultCluster.WaitServing(silo, FaultCluster.StartTimeout);
            await using var worker = WorkerProcess.Start("outage-node", silo.Address, "1", ("H100", 1, 4));
            await WaitForReadyReplica(silo);

            using var tenant = new SchedulerClient(silo.Address, TenantKey);
            var request = new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "kept through an outage", MaxTokens = MaxTokens };
            string? jobId = null;
            var tokens = 0;
            JobEvent? end = null;
            var paused = false;
            try
            {
                await foreach (var e in tenant.StreamAsync(request, DateTime.UtcNow.AddMinutes(2)))
                {
                    jobId = e.JobId;
                    if (e.EventCase == JobEvent.EventOneofCase.Tokens)
                    {
                        tokens += e.Tokens.TokenCount;
                        if (!paused)
                        {
                            // The job runs on; it ends while Redis answers nothing.
                            redis.Pause();
                            paused = true;
                        }
                    }
                    else if (e.EventCase is JobEvent.EventOneofCase.Completed or JobEvent.EventOneofCase.Failed)
                    {
                        end = e;
                    }
                }

                // Redis stays unreachable until the record has found that it cannot write the outcome.
                await Polling.Until(() => silo.Output.Any(line => line.Contains("its record could not be written", StringComparison.Ordinal)),
                    "the record's write failing while Redis is paused", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
            }
            finally
            {
                if (paused)
                {
                    redis.Resume();
                }
            }

            Assert.True(paused, "the job streamed no token before it ended");
            Assert.Equal(JobEvent.EventOneofCase.Completed, end?.EventCase);
            Assert.Equal(MaxTokens, tokens);

            // Once Redis answers, the record's retry writes the outcome and settles it: the job leaves the journal that a
            // rebuilt placement would replay.
            await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
            var db = connection.GetDatabase();
            var journal = (RedisKey)$"{{{serviceId}}}/journal/{FaultCluster.Model}";
            await Polling.Until(async () => !await db.HashExistsAsync(journal, jobId),
                "the job's outcome recorded after the outage", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));

            var job = await tenant.GetAsync(jobId!);
            Assert.Equal(JobStatus.Completed, job.Status);
            Assert.Equal(MaxTokens, job.Usage.CompletionTokens);

            // The tenant's counts reach Redis after the stall: a silo started after this one is killed reads them.
            await Task.Delay(TenantWriteInterval * 3);
            silo.Kill();
            using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await silo.WaitForExitAsync(exit.Token);
            }

            await using var restarted = SiloProcess.StartInPlaceOf(silo, 1, args);
            await FaultCluster.WaitServing(restarted, FaultCluster.StartTimeout);
            using var admin = new SchedulerAdminClient(restarted.Address, AdminKey);
            Tenant? counted = null;
            await Polling.Until(async () => (counted = await TryGetTenant(admin)) is not null,
                "the tenant on the restarted silo", FaultCluster.StartTimeout, TimeSpan.FromMilliseconds(500));
            Assert.Equal((1L, (long)MaxTokens), (counted!.Usage.JobsCompleted, counted.Usage.CompletionTokens));
        }
        catch
        {
            foreach (var line in silo.Output.TakeLast(80))
            {
                output.WriteLine(line);
            }

            throw;
        }
    }

    [Fact]
    public Task SubmissionsWhileRedisIsUnreachable_AreUnavailableThroughEverySilo_AndAcceptedOnceRedisAnswers() => FaultCluster.RunAsync(output, async cluster =>
    {
        // Each tenant's grain lives on one of the two silos, so through the other its storage's failure crosses silos:
        // Redis' exception did not serialize there, and the submission was INTERNAL (an SRE probe).
        var request = new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "during an outage", MaxTokens = 4 };
        cluster.Redis.Pause();
        Grpc.Core.RpcException[] refusals;
        try
        {
            refusals = await Task.WhenAll(cluster.Silos.SelectMany(silo => FaultCluster.Tenants.Select(async (_, t) =>
            {
                using var client = cluster.Tenant(t, silo);
                return await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => client.SubmitAsync(request, DateTime.UtcNow.AddSeconds(60)));
            })));
        }
        finally
        {
            cluster.Redis.Resume();
        }

        Assert.All(refusals, e => Assert.Equal(
            (Grpc.Core.StatusCode.Unavailable, "the scheduler's storage (Redis) does not answer: retry the same request, with its idempotency key"),
            (e.StatusCode, e.Status.Detail)));
        using var tenant = cluster.Tenant(0, cluster.Silos[1]);
        await Polling.Until(async () =>
        {
            try
            {
                return (await tenant.SubmitAsync(request, DateTime.UtcNow.AddSeconds(10))).JobId.Length > 0;
            }
            catch (Grpc.Core.RpcException e) when (e.StatusCode == Grpc.Core.StatusCode.Unavailable)
            {
                return false;
            }
        }, "a submission accepted once Redis answers", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(500));
    }, silos: 2, workers: 1);

    private static async Task<Tenant?> TryGetTenant(SchedulerAdminClient admin)
    {
        try
        {
            return await admin.GetTenantAsync(TenantId, deadline: DateTime.UtcNow.AddSeconds(10));
        }
        catch (Grpc.Core.RpcException e) when (e.StatusCode is Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.DeadlineExceeded or Grpc.Core.StatusCode.Internal)
        {
            // The restarted silo is still taking over the dead one's grains.
            return null;
        }
    }

    private static async Task WaitForReadyReplica(SiloProcess silo)
    {
        using var admin = new SchedulerAdminClient(silo.Address, AdminKey);
        await Polling.Until(async () =>
        {
            try
            {
                var replicas = await admin.ListReplicasAsync(FaultCluster.Model, DateTime.UtcNow.AddSeconds(5));
                return replicas.Any(r => r.State == "ready");
            }
            catch (Grpc.Core.RpcException)
            {
                return false;
            }
        }, "the worker's replica ready", FaultCluster.StartTimeout, TimeSpan.FromMilliseconds(250));
    }
}
