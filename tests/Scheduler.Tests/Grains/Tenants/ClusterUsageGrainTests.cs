using Orleans.Core.Internal;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Tenants;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains.Tenants;

/// <summary>The cluster's usage sum against the tenants' own usage, in a silo of its own: the sum is the cluster's, so
/// no other test's tenants may add to it.</summary>
public sealed class ClusterUsageGrainTests(GrainClusterFixture cluster) : IClassFixture<GrainClusterFixture>
{
    private readonly string _model = Unique("model");

    private IClusterUsageGrain Sum => cluster.Client.GetGrain<IClusterUsageGrain>(IClusterUsageGrain.Key);

    [Fact]
    public async Task Get_AfterJobsEnd_IsTheTenantsSum_AlsoAfterItsActivationAndTheTenantsWereLost()
    {
        // Costs a double adds exactly, so the tenants' sum can be compared as it is.
        var tenants = new[] { Unique("tenant"), Unique("tenant"), Unique("tenant") };
        for (var t = 0; t < tenants.Length; t++)
        {
            await RunJobs(tenants[t], jobs: t + 1, cost: 0.25 * (t + 1));
        }

        await Until(async () => await Sum.Get() == await TenantsSum(tenants), "the sum is the tenants' usage");
        var before = await Sum.Get();
        Assert.Equal(6, before.JobsCompleted);
        Assert.Equal(0.25 + (2 * 0.5) + (3 * 0.75), before.CostUsd);

        // Its silo dying is its activation lost, as are the tenants' that were collected idle meanwhile: the new
        // activation reads them back before it answers.
        foreach (var tenant in tenants)
        {
            await cluster.Client.GetGrain<ITenantGrain>(tenant).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        }

        await Sum.Cast<IGrainManagementExtension>().DeactivateOnIdle();

        Assert.Equal(before, await Sum.Get());

        // And reports reach the new activation.
        await RunJobs(tenants[0], jobs: 1, cost: 0.5);
        await Until(async () => await Sum.Get() == await TenantsSum(tenants), "the sum is the tenants' usage with the job after");
        Assert.Equal(7, (await Sum.Get()).JobsCompleted);
    }

    /// <summary>Puts the tenant, submits <paramref name="jobs"/> jobs and ends each as completed, costing
    /// <paramref name="cost"/>.</summary>
    private async Task RunJobs(string tenantId, int jobs, double cost)
    {
        var tenant = cluster.Client.GetGrain<ITenantGrain>(tenantId);
        await tenant.Put(new TenantSettings(1, TenantQuotas.Default, ApiKey: null));
        for (var i = 0; i < jobs; i++)
        {
            var jobId = Unique("job");
            Assert.Equal(SubmitRejection.None, (await tenant.Submit(jobId, Request(_model), [])).Rejection);
            await tenant.OnFinished(jobId, new JobOutcome(JobStatus.Completed, "length", new JobUsage(100, 10, cost, 1, 2, 3), "text", null, []));
        }
    }

    private async Task<TenantUsage> TenantsSum(IEnumerable<string> tenants)
    {
        var usages = await Task.WhenAll(tenants.Select(async t => (await cluster.Client.GetGrain<ITenantGrain>(t).Get())!.Usage));
        return usages.Aggregate(TenantUsage.Empty, (sum, u) => new TenantUsage(
            sum.PromptTokens + u.PromptTokens, sum.CompletionTokens + u.CompletionTokens, sum.CostUsd + u.CostUsd, sum.JobsSubmitted + u.JobsSubmitted,
            sum.JobsCompleted + u.JobsCompleted, sum.JobsFailed + u.JobsFailed, sum.JobsCancelled + u.JobsCancelled, sum.JobsExpired + u.JobsExpired));
    }
}
