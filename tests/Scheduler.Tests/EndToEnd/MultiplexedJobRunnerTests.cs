using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos;
using Scheduler.Protos.Errors;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Tests.EndToEnd;

/// <summary>The multiplexed client against the in-process silo and worker processes: what it does beyond what both
/// runners promise (<see cref="JobRunnerTests"/>); its silo-failure behaviour is in the fault tests
/// (<c>SiloFailureTests</c>).</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class MultiplexedJobRunnerTests(SchedulerCluster cluster)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task RunAsync_120JobsAtOnce_EachCompletesOnceWithEveryToken_NoReconnect()
    {
        using var runner = new MultiplexedJobRunner([cluster.Address], SchedulerCluster.Tenants[1].Key);
        var streamed = new int[120];
        var jobs = Enumerable.Range(0, streamed.Length).Select(i => runner.RunAsync(
            new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "multiplexed runner " + i, MaxTokens = 1 + (i % 10) },
            chunk => Interlocked.Add(ref streamed[i], chunk.TokenCount),
            DateTime.UtcNow + Patience)).ToList();

        var results = await Task.WhenAll(jobs);

        for (var i = 0; i < results.Length; i++)
        {
            var result = results[i];
            Assert.True(result.Succeeded, $"job {i}: {result.Status} {result.Error}");
            Assert.Equal((1 + (i % 10), 1 + (i % 10), 0, 0), (result.TokenCount, streamed[i], result.Reconnects, result.RepeatedTokensDropped));
        }

        Assert.Equal(results.Length, results.Select(r => r.JobId).Distinct().Count());
        using var client = cluster.Tenant(1);
        Assert.Equal(results[7].Text, (await client.GetAsync(results[7].JobId)).Output);
    }

    [Fact]
    public async Task RunAsync_BadField_ThrowsItsStatusNamingTheField_WhileAJobOnTheSameCallCompletes()
    {
        using var runner = new MultiplexedJobRunner([cluster.Address], SchedulerCluster.Tenants[1].Key);
        var good = runner.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "good", MaxTokens = 4 }, deadline: DateTime.UtcNow + Patience);
        var bad = runner.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "bad", MaxTokens = 0 }, deadline: DateTime.UtcNow + Patience);

        var error = await Assert.ThrowsAsync<RpcException>(() => bad);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("max_tokens:", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("max_tokens", Assert.Single(error.GetRpcStatus()?.GetDetail<Google.Rpc.BadRequest>()?.FieldViolations ?? []).Field);
        Assert.True((await good).Succeeded);

        // The call is still the runner's: a job after the refusal runs on it too.
        Assert.True((await runner.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "after", MaxTokens = 2 }, deadline: DateTime.UtcNow + Patience)).Succeeded);
    }

    /// <summary>A refusal over StreamJobs is rebuilt as the status SubmitJob would have thrown, its ErrorInfo reason
    /// included: a client tells a reused key from other ALREADY_EXISTS without reading the message.</summary>
    [Fact]
    public async Task RunAsync_IdempotencyKeyReusedForAnotherRequest_ThrowsAlreadyExistsWithItsReason()
    {
        using var client = cluster.Tenant(1);
        var key = "multiplexed-reused-" + Guid.NewGuid().ToString("N");
        var first = await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "first", MaxTokens = 4, IdempotencyKey = key });
        using var runner = new MultiplexedJobRunner([cluster.Address], SchedulerCluster.Tenants[1].Key);

        var error = await Assert.ThrowsAsync<RpcException>(() => runner.RunAsync(
            new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "second", MaxTokens = 4, IdempotencyKey = key }, deadline: DateTime.UtcNow + Patience));

        Assert.Equal(StatusCode.AlreadyExists, error.StatusCode);
        var info = error.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>();
        Assert.Equal((ErrorReasons.Domain, ErrorReasons.IdempotencyKeyReused), (info?.Domain, info?.Reason));
        await client.CancelAsync(first.JobId);
    }

    [Fact]
    public async Task RunAsync_OverRequestsPerMinute_ThrowsWhatSubmitJobWould_TheQuotasErrorInfoAndRateLimitTrailersIncluded()
    {
        var key = await cluster.NewTenantKey("runner-rpm", new TenantQuotas { RequestsPerMinute = 2, TokensPerMinute = 100_000 });
        using var client = new SchedulerClient(cluster.Channel, key);
        var parked = new[]
        {
            await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "fills the quota", MaxTokens = 1 }),
            await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "fills the quota", MaxTokens = 1 }),
        };
        try
        {
            using var runner = new MultiplexedJobRunner([cluster.Address], key);
            var error = await Assert.ThrowsAsync<RpcException>(() =>
                runner.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "one too many", MaxTokens = 1 }, deadline: DateTime.UtcNow + Patience));

            Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
            Assert.NotNull(RetryHint.Of(error));
            var info = error.GetRpcStatus()!.GetDetail<Google.Rpc.ErrorInfo>()!;
            Assert.Equal((ErrorReasons.RateLimitExceeded, ErrorReasons.Domain, "requests_per_minute", "2"), (info.Reason, info.Domain, info.Metadata["quota"], info.Metadata["limit"]));
            Assert.Equal(("2", "0", "100000"), (error.Trailers.GetValue("x-ratelimit-limit-requests"), error.Trailers.GetValue("x-ratelimit-remaining-requests"), error.Trailers.GetValue("x-ratelimit-limit-tokens")));
            Assert.EndsWith("s", error.Trailers.GetValue("x-ratelimit-reset-requests"), StringComparison.Ordinal);
            Assert.NotNull(error.Trailers.GetValue("x-ratelimit-remaining-tokens"));
            Assert.EndsWith("s", error.Trailers.GetValue("x-ratelimit-reset-tokens"), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var job in parked)
            {
                await client.CancelAsync(job.JobId);
            }
        }
    }

    [Fact]
    public async Task RunAsync_OverTheQueueQuota_ThrowsResourceExhaustedWithTheRetryHint()
    {
        using var client = new SchedulerClient(cluster.Channel, SchedulerCluster.CappedKey);
        var parked = new[]
        {
            await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "fills the quota", MaxTokens = 1 }),
            await client.SubmitAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "fills the quota", MaxTokens = 1 }),
        };
        try
        {
            using var runner = new MultiplexedJobRunner([cluster.Address], SchedulerCluster.CappedKey);
            var error = await Assert.ThrowsAsync<RpcException>(() =>
                runner.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = "one too many", MaxTokens = 1 }, deadline: DateTime.UtcNow + Patience));

            Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
            Assert.NotNull(RetryHint.Of(error));
            Assert.Equal(RetryHint.Of(error), error.GetRpcStatus()?.GetDetail<Google.Rpc.RetryInfo>()?.RetryDelay.ToTimeSpan());
        }
        finally
        {
            foreach (var job in parked)
            {
                await client.CancelAsync(job.JobId);
            }
        }
    }

    /// <summary>A call holds at most <see cref="StreamJobsLimits.MaxOpenSubmissions"/> submissions open; the runner wrote more, and
    /// they waited unread in the connection's buffers. A job given up on there (its deadline passed) was reported "not
    /// accepted before the deadline" and made all the same once the open jobs ended (a probe: 3,000 jobs at once with a
    /// 3 s deadline, 1,976 "not accepted", 1,536 jobs made, not 1,024). Now the runner waits for room itself.</summary>
    [Fact]
    public async Task RunAsync_PastTheCallsOpenLimit_AJobGivenUpBeforeItsTurn_IsNeverMade()
    {
        var key = await cluster.NewTenantKey("past-open-limit", new TenantQuotas { MaxQueuedJobs = 2 * StreamJobsLimits.MaxOpenSubmissions });
        var tenant = key.Replace("-key-", "-", StringComparison.Ordinal);
        using var made = new TenantCounter(SemanticConventions.JobsSubmitted, tenant, SemanticConventions.RequestModel);
        using var runner = new MultiplexedJobRunner([cluster.Address], key);
        const int beyond = 50;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        var jobs = Enumerable.Range(0, StreamJobsLimits.MaxOpenSubmissions + beyond).Select(i => runner.RunAsync(
            new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, Prompt = $"parked {i}", MaxTokens = 1 }, deadline: deadline)).ToList();

        // Parked, no job finishes: those accepted ran out of time queued, the rest were not accepted.
        var errors = new List<RpcException>();
        foreach (var job in jobs)
        {
            errors.Add(await Assert.ThrowsAsync<RpcException>(() => job));
        }

        Assert.All(errors, e => Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode));
        Assert.Equal(beyond, errors.Count(e => e.Status.Detail.StartsWith("the job was not accepted", StringComparison.Ordinal)));
        Assert.Equal(StreamJobsLimits.MaxOpenSubmissions, made.Total());

        // Their ends free the call's room; nothing given up on is sent in their place.
        using var client = cluster.ClientWithKey(key);
        var page = new ListJobsRequest { PageSize = 500 };
        do
        {
            var listed = await client.ListAsync(page);
            await Task.WhenAll(listed.Jobs.Select(j => client.CancelAsync(j.JobId)));
            page.PageToken = listed.NextPageToken;
        }
        while (page.PageToken.Length > 0);

        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(StreamJobsLimits.MaxOpenSubmissions, made.Total());
    }

    [Fact]
    public async Task RunAsync_FirstSiloUnreachable_OpensTheCallOnTheNext()
    {
        // Nothing listens on the first address (a port just freed): the call to it fails and the job goes to the next.
        using var runner = new MultiplexedJobRunner([$"http://127.0.0.1:{FreePort.Next()}", cluster.Address], SchedulerCluster.Tenants[2].Key);

        var result = await runner.RunAsync(new SubmitJobRequest { Model = SchedulerCluster.Model, Prompt = "second silo", MaxTokens = 3 }, deadline: DateTime.UtcNow + Patience);

        Assert.True(result.Succeeded, $"{result.Status} {result.Error}");
        Assert.True(result.Reconnects >= 1, "the first silo cannot have served it");
    }
}
