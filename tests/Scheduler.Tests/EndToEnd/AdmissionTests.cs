using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.EndToEnd;

/// <summary>Quotas, overload shedding and deadlines through the real front door (gRPC to the in-process silo).</summary>
[Collection(SchedulerClusterCollection.Name)]
public sealed class AdmissionTests(SchedulerCluster cluster)
{
    private static SubmitJobRequest Parked(Priority priority = Priority.Standard, int deadlineMs = 0) =>
        new() { Model = SchedulerCluster.ParkedModel, Prompt = "wait", MaxTokens = 4, Priority = priority, DeadlineMs = deadlineMs };

    [Fact]
    public async Task SubmitJob_OverRequestsPerMinute_IsResourceExhaustedWithRetryAfterTrailer()
    {
        using var admin = cluster.Admin();
        var key = "rpm-limited-key-" + Guid.NewGuid().ToString("N")[..8];
        var tenant = await admin.PutTenantAsync(new PutTenantRequest
        {
            TenantId = "rpm-limited-" + Guid.NewGuid().ToString("N")[..8],
            Weight = 1,
            ApiKey = key,
            Quotas = new TenantQuotas { RequestsPerMinute = 2, TokensPerMinute = 100_000 },
        });
        Assert.Equal(2, tenant.Quotas.RequestsPerMinute);
        Assert.Equal(100_000, tenant.Quotas.TokensPerMinute);
        using var client = cluster.ClientWithKey(key);
        var first = await client.SubmitAsync(Parked());
        var second = await client.SubmitAsync(Parked());

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(Parked()));

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("requests_per_minute", ex.Status.Detail, StringComparison.Ordinal);
        Assert.InRange(RetryHint.Of(ex)!.Value, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));

        // Which quota, without reading the message; and where the tenant stands, in OpenAI's x-ratelimit names.
        var info = ex.GetRpcStatus()!.GetDetail<Google.Rpc.ErrorInfo>()!;
        Assert.Equal(("RATE_LIMIT_EXCEEDED", "scheduler.v1", "requests_per_minute", "2"), (info.Reason, info.Domain, info.Metadata["quota"], info.Metadata["limit"]));
        Assert.Equal(("2", "0", "100000"), (ex.Trailers.GetValue("x-ratelimit-limit-requests"), ex.Trailers.GetValue("x-ratelimit-remaining-requests"), ex.Trailers.GetValue("x-ratelimit-limit-tokens")));
        await client.CancelAsync(first.JobId);
        await client.CancelAsync(second.JobId);
        Assert.Equal(2, (await admin.GetTenantAsync(tenant.TenantId)).Usage.JobsSubmitted);
    }

    [Fact]
    public async Task SubmitJob_LargerThanTheTokensPerMinuteQuota_IsFailedPrecondition_NamingTheFieldAndQuota_WithoutRetryHint()
    {
        // It was RESOURCE_EXHAUSTED without a retry hint, which a generic gRPC retry policy retries with backoff for good
        // although no retry can pass.
        using var admin = cluster.Admin();
        var key = "tpm-small-key-" + Guid.NewGuid().ToString("N")[..8];
        var tenant = "tpm-small-" + Guid.NewGuid().ToString("N")[..8];
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = tenant, Weight = 1, ApiKey = key, Quotas = new TenantQuotas { TokensPerMinute = 120 } });
        using var client = cluster.ClientWithKey(key);
        static SubmitJobRequest Ids(int prompt, int maxTokens)
        {
            var request = new SubmitJobRequest { Model = SchedulerCluster.ParkedModel, MaxTokens = maxTokens };
            request.PromptTokenIds.Add(Enumerable.Range(1, prompt));
            return request;
        }

        // Lowering max_tokens would do: it names max_tokens, and says how low.
        var over = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(Ids(50, 100)));
        Assert.Equal(StatusCode.FailedPrecondition, over.StatusCode);
        Assert.StartsWith("max_tokens: 50 prompt tokens + max_tokens 100 need 150 tokens", over.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("tokens_per_minute quota; limit 120, requested 150", over.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("lower max_tokens to at most 70", over.Status.Detail, StringComparison.Ordinal);
        Assert.Null(RetryHint.Of(over));
        var status = over.GetRpcStatus()!;
        var info = status.GetDetail<Google.Rpc.ErrorInfo>()!;
        Assert.Equal(("LARGER_THAN_QUOTA", "scheduler.v1"), (info.Reason, info.Domain));
        Assert.Equal(("tokens_per_minute", "120", "150"), (info.Metadata["quota"], info.Metadata["limit"], info.Metadata["requested"]));
        Assert.Equal(("QUOTA", "max_tokens"), status.GetDetail<Google.Rpc.PreconditionFailure>()!.Violations.Select(v => (v.Type, v.Subject)).Single());

        // The prompt alone is over: it names the prompt.
        var prompt = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(Ids(130, 4)));
        Assert.Equal(StatusCode.FailedPrecondition, prompt.StatusCode);
        Assert.StartsWith("prompt_token_ids: ", prompt.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("shorten the prompt", prompt.Status.Detail, StringComparison.Ordinal);

        // Within the quota, the same tenant is served: the refusals took nothing from it.
        var fits = await client.SubmitAsync(Ids(50, 70));
        await client.CancelAsync(fits.JobId);
        Assert.Equal(1, (await admin.GetTenantAsync(tenant)).Usage.JobsSubmitted);
    }

    [Fact]
    public async Task SubmitJob_SheddableWhileModelOverloaded_IsResourceExhausted_StandardAndCriticalAreAccepted()
    {
        using var client = cluster.Tenant(2);
        var queued = new List<Job>();
        for (var i = 0; i < SchedulerCluster.OverloadQueueLength; i++)
        {
            queued.Add(await client.SubmitAsync(Parked()));
        }

        try
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(Parked(Priority.Sheddable)));
            Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
            Assert.Contains("overloaded", ex.Status.Detail, StringComparison.Ordinal);
            Assert.NotNull(RetryHint.Of(ex));
            Assert.Equal(("OVERLOADED", "scheduler.v1"), ex.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>() is { } info ? (info.Reason, info.Domain) : default);

            queued.Add(await client.SubmitAsync(Parked(Priority.Standard)));
            queued.Add(await client.SubmitAsync(Parked(Priority.Critical)));
            Assert.All(queued, j => Assert.Equal(JobStatus.Queued, j.Status));
        }
        finally
        {
            foreach (var job in queued)
            {
                await client.CancelAsync(job.JobId);
            }
        }

        // Once the queue is below the threshold again, sheddable work is accepted.
        var accepted = await client.SubmitAsync(Parked(Priority.Sheddable));
        Assert.Equal(Priority.Sheddable, accepted.Priority);
        await client.CancelAsync(accepted.JobId);
    }

    [Fact]
    public async Task StreamJob_DeadlineThatCannotBeMet_EndsWithExpiredEvent_JobIsExpired_UsageCountsIt()
    {
        using var admin = cluster.Admin();
        using var client = cluster.Tenant(2);
        var tenantId = SchedulerCluster.Tenants[2].Id;
        var before = (await admin.GetTenantAsync(tenantId)).Usage.JobsExpired;

        // The parked model has no replica: the job can only wait, and expires 300 ms after it was accepted.
        var result = await client.RunAsync(Parked(deadlineMs: 300), deadline: DateTime.UtcNow.AddSeconds(20));

        Assert.Equal(JobStatus.Expired, result.Status);
        Assert.StartsWith("DEADLINE_EXCEEDED", result.Error, StringComparison.Ordinal);
        Assert.Equal(JobEvent.EventOneofCase.Expired, result.Events[^1].EventCase);
        Assert.Equal(0, result.TokenCount);
        var job = await client.GetAsync(result.JobId);
        Assert.Equal(JobStatus.Expired, job.Status);
        Assert.StartsWith("DEADLINE_EXCEEDED", job.Error, StringComparison.Ordinal);
        // The deadline counts from the front door's receipt, a moment before the tenant grain stamps the submission.
        Assert.InRange(job.Deadline.ToDateTimeOffset() - job.SubmittedAt.ToDateTimeOffset(), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(300));
        for (var i = 0; i < 100 && (await admin.GetTenantAsync(tenantId)).Usage.JobsExpired == before; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(before + 1, (await admin.GetTenantAsync(tenantId)).Usage.JobsExpired);
    }

    [Fact]
    public async Task GetJob_Expired_UsageHasTheSchedulersPromptCount_AndItsWaitAsTotal()
    {
        using var client = cluster.Tenant(2);
        var result = await client.RunAsync(Parked(deadlineMs: 300), deadline: DateTime.UtcNow.AddSeconds(20));
        Assert.Equal(JobStatus.Expired, result.Status);

        // inference.proto's Usage: prompt_tokens is the scheduler's count for a job that ended without running, and
        // total_ms runs from submission to the end (both read 0 before, and the source UNSPECIFIED, under a queue_ms of
        // the whole wait).
        var job = await client.GetAsync(result.JobId);
        Assert.Equal(job.PromptTokens, job.Usage.PromptTokens);
        Assert.Equal(PromptTokensSource.SchedulerEstimate, job.Usage.PromptTokensSource);
        Assert.Equal(0, job.Usage.CompletionTokens);
        Assert.InRange(job.Usage.TotalMs, 200, 60_000);
        Assert.Equal(job.Usage.QueueMs, job.Usage.TotalMs);
    }
}
