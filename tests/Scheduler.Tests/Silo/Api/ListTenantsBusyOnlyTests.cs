using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Silo.Api;

/// <summary>AdminService.ListTenants with busy_only over real gRPC, in a silo of its own (the test counts its tenants'
/// activations): what <c>schedctl top</c> polls. Listing every tenant each frame asked every tenant's grain, so none was
/// ever collected while top ran.</summary>
public sealed class ListTenantsBusyOnlyTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    private IGrainFactory Grains => silo.Service<IGrainFactory>();

    [Fact]
    public async Task ListTenants_BusyOnly_IsTheTenantsWithJobsQueued_BusiestFirst_AndAsksNoIdleTenant()
    {
        using var admin = silo.Admin();

        // No node serves the model: the jobs stay queued.
        await Submit(admin, "busy-only-light", jobs: 1);
        await Submit(admin, "busy-only-heavy", jobs: 3);
        var idle = Enumerable.Range(0, 4).Select(i => $"busy-only-idle-{i}").ToArray();
        await Grains.CreateIdleTenants(admin, idle);

        var pages = new List<ListTenantsResponse>();
        for (var i = 0; i < 3; i++)
        {
            pages.Add(await admin.ListTenantsAsync(new ListTenantsRequest { BusyOnly = true }));
        }

        Assert.Empty(await Grains.ActiveTenants(idle));
        Assert.All(pages, page =>
        {
            Assert.Equal(["busy-only-heavy", "busy-only-light"], page.Tenants.Select(t => t.TenantId));
            Assert.Equal([3, 1], page.Tenants.Select(t => t.QueuedJobs));
            Assert.Equal("", page.NextPageToken);
        });

        var first = await admin.ListTenantsAsync(new ListTenantsRequest { BusyOnly = true, PageSize = 1 });
        Assert.Equal(["busy-only-heavy"], first.Tenants.Select(t => t.TenantId));
    }

    [Fact]
    public async Task ListTenants_BusyOnlyWithAPageToken_IsRefusedNamingIt()
    {
        using var admin = silo.Admin();
        var page = await admin.ListTenantsAsync(new ListTenantsRequest { PageSize = 1 });

        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            admin.ListTenantsAsync(new ListTenantsRequest { BusyOnly = true, PageToken = page.NextPageToken }));

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("page_token", refused.Status.Detail, StringComparison.Ordinal);
    }

    private async Task Submit(Scheduler.Client.SchedulerAdminClient admin, string tenant, int jobs)
    {
        var key = tenant + "-key";
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = tenant, ApiKey = key });
        using var client = silo.Client(key);
        for (var i = 0; i < jobs; i++)
        {
            await client.SubmitAsync(new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "hello", MaxTokens = 4 });
        }
    }
}
