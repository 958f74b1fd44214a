using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.Hosting;
using Scheduler.Standalone;
using Scheduler.Tests.Faults;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Scheduler.Tests.EndToEnd;

/// <summary>
/// A finished job is kept for Scheduler:Scheduling:JobRetention after its end, then GetJob, WatchJob and ExplainJob
/// answer NOT_FOUND saying how long jobs are kept (in the tenant's words, without the settings' names); the embedded
/// default also keeps at most MaxSettledJobsInMemory records. Before, Redis kept every record for good (1.4 KB each) and the embedded default every record for its life.
/// </summary>
[Collection(SiloFaultCollection.Name)]
public sealed class JobRetentionTests(ITestOutputHelper output)
{
    private const string AdminKey = "retention-admin-key";
    private static readonly TimeSpan Retention = TimeSpan.FromSeconds(5);

    [Fact]
    public Task RedisMode_ARecordIsWrittenWithTheRetention_ThenGetWatchAndExplainAreNotFound_SayingHowLongJobsAreKept() =>
        FaultCluster.RunAsync(output, async cluster =>
        {
            using var tenant = cluster.Tenant(0);
            var run = await tenant.RunAsync(new SubmitJobRequest { Model = FaultCluster.Model, Prompt = "kept for a while", MaxTokens = 4 },
                deadline: DateTime.UtcNow.AddSeconds(60));
            Assert.True(run.Succeeded, run.Error);

            // Its record carries its expiry from the write that settled it.
            await using var redis = await ConnectionMultiplexer.ConnectAsync(cluster.Redis.Endpoint);
            var key = Assert.Single(redis.GetServer(cluster.Redis.Endpoint).Keys(pattern: $"*/job-record/{run.JobId}"));
            var ttl = await redis.GetDatabase().KeyTimeToLiveAsync(key);
            Assert.InRange(ttl!.Value, TimeSpan.FromMilliseconds(1), Retention);

            // Read within the retention (which activates the job's record and has it keep the record)...
            Assert.Equal(JobStatus.Completed, (await tenant.GetAsync(run.JobId)).Status);
            await Polling.Until(async () => !await redis.GetDatabase().KeyExistsAsync(key), "the record expired", TimeSpan.FromSeconds(30),
                TimeSpan.FromMilliseconds(100));

            // ...and gone after it, on every door that reads a job by its id.
            // In the tenant's words: how long jobs are kept, not the server setting it can neither see nor change.
            var kept = $"job '{run.JobId}' not found: a finished job's record is kept for 5 seconds after its end";
            var get = await Assert.ThrowsAsync<RpcException>(() => tenant.GetAsync(run.JobId));
            Assert.Equal((StatusCode.NotFound, kept), (get.StatusCode, get.Status.Detail));
            var watch = await Assert.ThrowsAsync<RpcException>(() => tenant.AttachAsync(run.JobId));
            Assert.Equal((StatusCode.NotFound, kept), (watch.StatusCode, watch.Status.Detail));
            using var admin = cluster.Admin();
            var explain = await Assert.ThrowsAsync<RpcException>(() => admin.ExplainJobAsync(run.JobId));
            Assert.Equal((StatusCode.NotFound, kept), (explain.StatusCode, explain.Status.Detail));
        },
        silos: 1, workers: 1,
        siloSettings: ["--Scheduler:Scheduling:JobRetention=00:00:05"]);

    [Fact]
    public async Task EmbeddedDefault_PastTheCountBound_TheOldestRecordIsGone_AndItsIdempotencyKeyStartsANewJob()
    {
        await using var app = StandaloneHost.Build(
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            $"--Scheduler:AdminApiKey={AdminKey}", "--Scheduler:EmbeddedFleet:SpeedUp=instant",
            "--Scheduler:Scheduling:MaxSettledJobsInMemory=2", "--Logging:LogLevel:Default=Warning",
        ]);
        await app.StartAsync();
        try
        {
            var address = app.Services.GetRequiredService<ListeningAddresses>().Grpc;
            using var tenant = new SchedulerClient(address, "dev-key");
            var keyed = new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "once", MaxTokens = 4, IdempotencyKey = "retention-" + Guid.NewGuid() };
            var first = await Run(tenant, keyed);

            // Within the bound the key names its job.
            Assert.Equal(first, (await tenant.SubmitAsync(keyed)).JobId);

            // Two jobs later the first's record is the oldest past the bound: gone, and the listing holds the two newest.
            // A millisecond apart at least: the listing orders by submission millisecond, ties by job id (IJobIndex), and an
            // instant engine ran both within one millisecond once (ci98: the two listed in id order, not submission order).
            var a = await Run(tenant, new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "a", MaxTokens = 4 });
            await Task.Delay(5);
            var later = new[] { a, await Run(tenant, new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "b", MaxTokens = 4 }) };
            var kept = $"job '{first}' not found: a finished job's record is kept for 7 days after its end, and only the newest 2 finished jobs (of all tenants) are kept";
            var gone = await Assert.ThrowsAsync<RpcException>(() => tenant.GetAsync(first));
            Assert.Equal((StatusCode.NotFound, kept), (gone.StatusCode, gone.Status.Detail));
            var cancel = await Assert.ThrowsAsync<RpcException>(() => tenant.CancelAsync(first));
            Assert.Equal((StatusCode.NotFound, kept), (cancel.StatusCode, cancel.Status.Detail));
            Assert.Equal(later.Reverse(), (await tenant.ListAsync(new ListJobsRequest())).Jobs.Select(j => j.JobId));

            // The key no longer names a job GetJob finds: resubmitted, it is a new job, which runs.
            var again = await tenant.SubmitAsync(keyed);
            Assert.NotEqual(first, again.JobId);
            Assert.True((await tenant.AttachAsync(again.JobId)).Succeeded);
            Assert.Equal(again.JobId, (await tenant.SubmitAsync(keyed)).JobId);
        }
        finally
        {
            await app.StopAsync();
        }
    }

    private static async Task<string> Run(SchedulerClient tenant, SubmitJobRequest request)
    {
        var result = await tenant.RunAsync(request, deadline: DateTime.UtcNow.AddSeconds(60));
        Assert.True(result.Succeeded, result.Error);
        return result.JobId;
    }
}
