using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Tenants;
using Scheduler.Policies;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains;

[Collection(GrainClusterCollection.Name)]
public sealed class TenantAdmissionTests(GrainClusterFixture cluster)
{
    private readonly string _model = Unique("model");
    private readonly string _tenantId = Unique("tenant");

    private ITenantGrain Tenant => cluster.Client.GetGrain<ITenantGrain>(_tenantId);

    private string JobId(int i) => $"{_tenantId}-j{i}";

    private async Task<TenantInfo> Put(int requestsPerMinute = 0, long tokensPerMinute = 0) =>
        (await Tenant.Put(new TenantSettings(1, new TenantQuotas(0, requestsPerMinute, tokensPerMinute), ApiKey: null))).Tenant!;

    [Fact]
    public async Task Submit_OverRequestsPerMinute_IsRateLimitedWithRetryHint_AndCountsNothing()
    {
        await Put(requestsPerMinute: 2);
        Assert.Equal(SubmitRejection.None, (await Tenant.Submit(JobId(0), Request(_model), [])).Rejection);
        Assert.Equal(SubmitRejection.None, (await Tenant.Submit(JobId(1), Request(_model), [])).Rejection);

        var refused = await Tenant.Submit(JobId(2), Request(_model), []);

        Assert.Equal(SubmitRejection.RateLimited, refused.Rejection);
        Assert.Contains("requests_per_minute", refused.Message, StringComparison.Ordinal);
        Assert.InRange(refused.RetryAfter!.Value, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.Null(await cluster.Client.GetGrain<IJobGrain>(JobId(2)).Get());
        var tenant = await Tenant.Get();
        Assert.Equal(2, tenant!.QueuedJobs);
        Assert.Equal(2, tenant.Usage.JobsSubmitted);
    }

    [Fact]
    public async Task Submit_OverTokensPerMinute_IsRateLimited_AndAJobLargerThanTheQuotaGetsNoRetryHint()
    {
        await Put(tokensPerMinute: 500);
        Assert.Equal(SubmitRejection.None, (await Tenant.Submit(JobId(0), Request(_model, prompt: 100, maxTokens: 200), [])).Rejection);

        var later = await Tenant.Submit(JobId(1), Request(_model, prompt: 100, maxTokens: 200), []);
        var never = await Tenant.Submit(JobId(2), Request(_model, prompt: 400, maxTokens: 200), []);

        Assert.Equal(SubmitRejection.RateLimited, later.Rejection);
        Assert.Contains("tokens_per_minute", later.Message, StringComparison.Ordinal);
        Assert.NotNull(later.RetryAfter);
        Assert.Equal(SubmitRejection.RateLimited, never.Rejection);
        Assert.Null(never.RetryAfter);
        Assert.Equal(("tokens_per_minute", 500L), (never.Quota, never.QuotaLimit));
    }

    [Fact]
    public async Task Submit_SheddableWhileModelOverloaded_IsShedWithoutARecord_StandardIsAccepted()
    {
        await Put();
        for (var i = 0; i < GrainClusterFixture.OverloadQueueLength; i++)
        {
            Assert.Equal(SubmitRejection.None, (await Tenant.Submit(JobId(i), Request(_model), [])).Rejection);
        }

        var shed = await Tenant.Submit(JobId(100), Request(_model, priority: JobPriority.Sheddable), []);
        var standard = await Tenant.Submit(JobId(101), Request(_model), []);

        Assert.Equal(SubmitRejection.Shed, shed.Rejection);
        Assert.Contains("overloaded", shed.Message, StringComparison.Ordinal);
        Assert.NotNull(shed.RetryAfter);
        Assert.Null(await cluster.Client.GetGrain<IJobGrain>(JobId(100)).Get());
        Assert.Equal(SubmitRejection.None, standard.Rejection);
        var tenant = await Tenant.Get();
        Assert.Equal(GrainClusterFixture.OverloadQueueLength + 1, tenant!.QueuedJobs);
        Assert.Equal(GrainClusterFixture.OverloadQueueLength + 1, tenant.Usage.JobsSubmitted);
    }

    [Fact]
    public async Task Submit_WithDeadline_ExpiresInTheQueue_AndUsageCountsIt()
    {
        await Put();

        var result = await Tenant.Submit(JobId(0), Request(_model, deadline: DateTimeOffset.UtcNow.AddMilliseconds(200)), []);

        Assert.Equal(SubmitRejection.None, result.Rejection);
        Assert.NotNull(result.Job!.Deadline);
        await Until(async () => (await Tenant.Get())!.Usage.JobsExpired == 1, "the tenant counts the expired job");
        var tenant = await Tenant.Get();
        Assert.Equal(0, tenant!.QueuedJobs);
        Assert.Equal(0, tenant.Usage.JobsFailed);
        var job = await cluster.Client.GetGrain<IJobGrain>(JobId(0)).Get();
        Assert.Equal(JobStatus.Expired, job!.Status);
        Assert.True(job.IsTerminal);
        Assert.True(job.Usage!.QueueMs >= 150, $"queued {job.Usage.QueueMs} ms");
    }
}
