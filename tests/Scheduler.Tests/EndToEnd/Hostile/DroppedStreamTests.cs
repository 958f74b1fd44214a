using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Client;
using Scheduler.Protos.V1;
using Scheduler.Silo.Streaming;

namespace Scheduler.Tests.EndToEnd.Hostile;

/// <summary>Thousands of streams opened and dropped at once: the silo stays healthy and keeps no trace of them.</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class DroppedStreamTests(SchedulerCluster cluster)
{
    private const int QueuedStreams = 1_000;
    private const int RunningStreams = 500;
    private const int Watches = 500;

    [Fact]
    public async Task TwoThousandStreams_OpenedAndDropped_LeaveNoSubscriptionAndEveryJobAccounted()
    {
        var stopwatch = Stopwatch.StartNew();
        using var admin = cluster.Admin();
        var tenant = "dropped-streams-" + Guid.NewGuid().ToString("N")[..8];
        var key = tenant + "-key";
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = tenant, Weight = 1, ApiKey = key, Quotas = new TenantQuotas { MaxQueuedJobs = 10_000 } });

        // Many HTTP/2 connections, so the streams are really open at the same time (100 per connection by default).
        using var channel = GrpcChannel.ForAddress(cluster.Address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
        });
        var raw = new InferenceService.InferenceServiceClient(channel);
        var auth = new Metadata { { "authorization", "Bearer " + key } };
        using var client = new SchedulerClient(channel, key);
        var parkedBefore = await ParkedQueue(admin);
        var watched = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "watched", MaxTokens = 4 });

        using var drop = new CancellationTokenSource();
        var calls = new List<AsyncServerStreamingCall<JobEvent>>();
        var streams = new List<Task<string?>>();
        for (var i = 0; i < QueuedStreams; i++)
        {
            streams.Add(FirstEvent(calls, raw.StreamJob(Parked(i), auth, cancellationToken: drop.Token)));
        }

        for (var i = 0; i < RunningStreams; i++)
        {
            streams.Add(FirstEvent(calls, raw.StreamJob(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "run " + i, MaxTokens = 4 }, auth, cancellationToken: drop.Token)));
        }

        for (var i = 0; i < Watches; i++)
        {
            streams.Add(FirstEvent(calls, raw.WatchJob(new WatchJobRequest { JobId = watched.JobId }, auth, cancellationToken: drop.Token)));
        }

        // Every stream got its first event (all 2,000 were open), then all are dropped at once.
        var jobIds = await Task.WhenAll(streams).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(jobIds, Assert.NotNull);
        await drop.CancelAsync();
        foreach (var call in calls)
        {
            call.Dispose();
        }

        // The hub forgets every dropped stream.
        var hub = cluster.SiloServices.GetRequiredService<JobEventHub>();
        await Polling.Until(() => hub.SubscribedJobs == 0, "stream subscriptions left in the hub", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));

        // Cancel what is still queued; what ran completes on its own.
        var parked = jobIds.Take(QueuedStreams).Append(watched.JobId).ToList();
        using var gate = new SemaphoreSlim(64);
        await Task.WhenAll(parked.Select(async id =>
        {
            await gate.WaitAsync();
            try
            {
                Assert.Equal(JobStatus.Cancelled, (await client.CancelAsync(id!)).Status);
            }
            finally
            {
                gate.Release();
            }
        }));

        await Polling.Until(
            async () => await admin.GetTenantAsync(tenant) is { QueuedJobs: 0, RunningJobs: 0 } t && t.Usage.JobsCompleted == RunningStreams,
            "the tenant's jobs to be accounted",
            TimeSpan.FromSeconds(30),
            TimeSpan.FromMilliseconds(100));
        var usage = (await admin.GetTenantAsync(tenant)).Usage;
        Assert.Equal(QueuedStreams + RunningStreams + 1, usage.JobsSubmitted);
        Assert.Equal(QueuedStreams + 1, usage.JobsCancelled);
        Assert.Equal(0, usage.JobsFailed);
        Assert.Equal(parkedBefore, await ParkedQueue(admin));

        // Still serving, and still nothing left behind.
        var after = await client.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "after the storm", MaxTokens = 5 }, deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.True(after.Succeeded, $"{after.Status} {after.Error}");
        Assert.Equal(0, hub.SubscribedJobs);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(60), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task StreamJob_ManyAtOnceWithOneIdempotencyKey_AllFollowTheSameJob()
    {
        // The duplicates arrive while the first is still being accepted (INTERNAL before; found by the fuzz test).
        using var client = cluster.Tenant(1);
        var request = new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "once", MaxTokens = 6, IdempotencyKey = "concurrent-" + Guid.NewGuid() };
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.RunAsync(request, deadline: DateTime.UtcNow.AddSeconds(30))));
        Assert.Single(results.Select(r => r.JobId).Distinct());
        Assert.All(results, r =>
        {
            Assert.True(r.Succeeded, $"{r.Status} {r.Error}");
            Assert.Equal(6, r.TokenCount);
        });
    }

    private static SubmitJobRequest Parked(int i) => new() { Model = SchedulerCluster.ParkedModel, Prompt = "parked " + i, MaxTokens = 4 };

    private static async Task<int> ParkedQueue(SchedulerAdminClient admin) =>
        (await admin.ListModelsAsync()).Single(m => m.Name == SchedulerCluster.ParkedModel).QueuedJobs;

    private static async Task<string?> FirstEvent(List<AsyncServerStreamingCall<JobEvent>> calls, AsyncServerStreamingCall<JobEvent> call)
    {
        calls.Add(call);
        return await call.ResponseStream.MoveNext(CancellationToken.None) ? call.ResponseStream.Current.JobId : null;
    }
}
