using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Silo.Api;

/// <summary>AdminService.ListTenants over real gRPC: pages in id order, a cursor that holds while tenants are created
/// between pages, and what a page request may be. Before paging every tenant came in one message, which a client's
/// default 4 MB receive limit refused in the tens of thousands of tenants.</summary>
public sealed class ListTenantsTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    [Fact]
    public async Task ListTenants_SmallPages_ListEveryTenantOnce_InIdOrder()
    {
        using var admin = silo.Admin();
        foreach (var id in new[] { "paged-4", "paged-0", "paged-6", "Paged-Upper", "paged-2", "paged-5", "paged-1", "paged-3" })
        {
            await admin.PutTenantAsync(new PutTenantRequest { TenantId = id });
        }

        var pages = await Pages(admin, pageSize: 3);

        var listed = pages.SelectMany(p => p).ToList();
        var everyTenant = (await admin.ListTenantsAsync(new ListTenantsRequest())).Tenants.Select(t => t.TenantId).ToList();
        Assert.True(everyTenant.Count >= 9, $"expected the 8 tenants made here and acme, got {everyTenant.Count}");
        Assert.Equal(everyTenant.Order(StringComparer.Ordinal), listed);
        Assert.Equal(listed.Count, listed.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal((everyTenant.Count + 2) / 3, pages.Count);
        Assert.All(pages.SkipLast(1), p => Assert.Equal(3, p.Count));
    }

    [Fact]
    public async Task ListTenants_NeitherField_AnswersEveryTenantOfASmallFleetInOnePageWithoutAToken()
    {
        using var admin = silo.Admin();
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "one-page" });

        var page = await admin.ListTenantsAsync(new ListTenantsRequest());

        Assert.Contains(page.Tenants, t => t.TenantId == "one-page");
        Assert.Contains(page.Tenants, t => t.TenantId == SecuredSilo.Tenant);
        Assert.Equal("", page.NextPageToken);
    }

    [Fact]
    public async Task ListTenants_TenantsCreatedBetweenPages_SkipNoneAndRepeatNone_OneAfterTheCursorIsListed()
    {
        using var admin = silo.Admin();
        foreach (var id in new[] { "between-b", "between-d", "between-f" })
        {
            await admin.PutTenantAsync(new PutTenantRequest { TenantId = id });
        }

        var before = (await admin.ListTenantsAsync()).Select(t => t.TenantId).ToList();
        var first = await admin.ListTenantsAsync(new ListTenantsRequest { PageSize = 2 });
        var cursor = first.Tenants[^1].TenantId;

        // One sorts before the cursor (the pages went past its place: it is not listed this time), one after it.
        const string Earlier = "0000-between", Later = "zz-between";
        Assert.True(string.CompareOrdinal(Earlier, cursor) < 0 && string.CompareOrdinal(Later, cursor) > 0, cursor);
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = Later });
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = Earlier });

        var rest = await Pages(admin, pageSize: 2, first.NextPageToken);

        var listed = first.Tenants.Select(t => t.TenantId).Concat(rest.SelectMany(p => p)).ToList();
        Assert.Equal(before.Append(Later).Order(StringComparer.Ordinal), listed);
    }

    [Fact]
    public async Task ListTenants_TokenPastTheLastTenant_IsAnEmptyLastPage()
    {
        using var admin = silo.Admin();

        // "tenant:~~~~": the token shape, naming an id that sorts after every tenant here.
        var page = await admin.ListTenantsAsync(new ListTenantsRequest { PageToken = "dGVuYW50On5-fn4" });

        Assert.Empty(page.Tenants);
        Assert.Equal("", page.NextPageToken);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5_001)]
    public async Task ListTenants_PageSizeOutOfRange_IsInvalidArgumentNamingPageSize(int pageSize)
    {
        using var admin = silo.Admin();

        var e = await Assert.ThrowsAsync<RpcException>(() => admin.ListTenantsAsync(new ListTenantsRequest { PageSize = pageSize }));

        Assert.Equal((StatusCode.InvalidArgument, "page_size: must be 0 (the default, 5000) to 5000"), (e.StatusCode, e.Status.Detail));
    }

    [Theory]
    [InlineData("not-a-token!")]
    [InlineData("YWNtZQ")] // base64url of "acme": a bare id is not a token this listing hands out
    [InlineData("MTcwMDAwMDAwMDAwMDpqb2ItMQ")] // "1700000000000:job-1": a ListJobs token
    public async Task ListTenants_PageTokenItDidNotHandOut_IsInvalidArgumentNamingPageToken(string token)
    {
        using var admin = silo.Admin();

        var e = await Assert.ThrowsAsync<RpcException>(() => admin.ListTenantsAsync(new ListTenantsRequest { PageToken = token }));

        Assert.Equal((StatusCode.InvalidArgument, "page_token: is not a token a previous ListTenants returned"), (e.StatusCode, e.Status.Detail));
    }

    // Every page from the token on, each page's tenant ids; checks the token is set exactly when a page is not the last.
    private static async Task<List<List<string>>> Pages(SchedulerAdminClient admin, int pageSize, string token = "")
    {
        var pages = new List<List<string>>();
        do
        {
            var page = await admin.ListTenantsAsync(new ListTenantsRequest { PageSize = pageSize, PageToken = token });
            Assert.InRange(page.Tenants.Count, 1, pageSize);
            pages.Add([.. page.Tenants.Select(t => t.TenantId)]);
            token = page.NextPageToken;
            Assert.True(pages.Count <= 100, "the pages do not end");
        }
        while (token.Length > 0);

        return pages;
    }
}
