using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Silo.Api;

/// <summary>AdminService.PutTenant over real gRPC: what a tenant's weight may be.</summary>
public sealed class PutTenantTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    [Theory]
    [InlineData(-1)]
    [InlineData(0.0009)]
    [InlineData(1000.5)]
    [InlineData(1e300)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public async Task PutTenant_WeightOutOfRange_NamesTheFieldAndTheRange(double weight)
    {
        using var admin = silo.Admin();
        var e = await Assert.ThrowsAsync<RpcException>(() => admin.PutTenantAsync(new PutTenantRequest { TenantId = "weighty", Weight = weight }));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("weight: must be a number from 0.001 to 1000 (or 0 for the default, 1)", e.Status.Detail);
    }

    [Theory]
    [InlineData(0.001)]
    [InlineData(1000)]
    public async Task PutTenant_WeightAtTheEndsOfItsRange_IsKept(double weight)
    {
        using var admin = silo.Admin();
        Assert.Equal(weight, (await admin.PutTenantAsync(new PutTenantRequest { TenantId = "weighty-ok", Weight = weight })).Weight);
    }

    [Fact]
    public async Task PutTenant_WithAnUpdateMask_ChangesOnlyTheNamedFields_EvenWhenOthersAreGiven()
    {
        using var admin = silo.Admin();
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "masked", Weight = 2, Quotas = Quotas(7, 5, 9000) });

        var weighted = await admin.PutTenantAsync(new PutTenantRequest
        {
            TenantId = "masked", Weight = 3, Quotas = Quotas(1, 1, 1), UpdateMask = Mask("weight"),
        });
        Assert.Equal((3.0, 7, 5, 9000L), Settings(weighted));

        var limited = await admin.PutTenantAsync(new PutTenantRequest
        {
            TenantId = "masked", Weight = 50, Quotas = Quotas(0, 60, 0), UpdateMask = Mask("quotas.requests_per_minute"),
        });
        Assert.Equal((3.0, 7, 60, 9000L), Settings(limited));
        Assert.Equal((3.0, 7, 60, 9000L), Settings(await admin.GetTenantAsync("masked")));

        var quotas = await admin.PutTenantAsync(new PutTenantRequest { TenantId = "masked", Quotas = Quotas(4, 0, 100), UpdateMask = Mask("quotas") });
        Assert.Equal((3.0, 4, 0, 100L), Settings(quotas));
    }

    [Fact]
    public async Task PutTenant_WithoutAMask_ReplacesEverySetting_AsBefore()
    {
        using var admin = silo.Admin();
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "unmasked", Weight = 2, Quotas = Quotas(7, 5, 9000) });

        var replaced = await admin.PutTenantAsync(new PutTenantRequest { TenantId = "unmasked", Weight = 3 });

        Assert.Equal((3.0, 1000, 0, 0L), Settings(replaced));
    }

    [Fact]
    public async Task PutTenant_MaxQueuedJobsZero_ReportsTheDefaultBoundInForce()
    {
        // 0 means the default bound (1,000), which the tenant's queue is held to; it was reported as 0, which schedctl
        // shows as "-", as it shows a per-minute quota that is not there.
        using var admin = silo.Admin();

        var put = await admin.PutTenantAsync(new PutTenantRequest { TenantId = "queue-default", Weight = 1, Quotas = Quotas(0, 60, 0) });

        Assert.Equal((1.0, 1000, 60, 0L), Settings(put));
        Assert.Equal((1.0, 1000, 60, 0L), Settings(await admin.GetTenantAsync("queue-default")));
        Assert.Equal(1000, (await admin.ListTenantsAsync()).Single(t => t.TenantId == "queue-default").Quotas.MaxQueuedJobs);
    }

    [Fact]
    public async Task PutTenant_AnEmptyMask_CreatesAMissingTenantWithTheDefaults_AndChangesNothingOfAnExistingOne()
    {
        using var admin = silo.Admin();
        var created = await admin.PutTenantAsync(new PutTenantRequest { TenantId = "mask-empty", Weight = 9, UpdateMask = new FieldMask() });
        Assert.Equal(1.0, created.Weight);

        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "mask-empty", Weight = 2, Quotas = Quotas(7, 5, 9000) });
        var unchanged = await admin.PutTenantAsync(new PutTenantRequest { TenantId = "mask-empty", Weight = 9, UpdateMask = new FieldMask() });
        Assert.Equal((2.0, 7, 5, 9000L), Settings(unchanged));
    }

    [Theory]
    [InlineData("quotas.nonsense", "update_mask: 'quotas.nonsense' is not a field a put can change: use api_key, weight, quotas, ")]
    [InlineData("Weight", "update_mask: 'Weight' is not a field")]
    [InlineData("api_key", "api_key: is named in update_mask but empty")]
    public async Task PutTenant_ABadMask_IsInvalidArgumentNamingTheField_AndChangesNothing(string path, string message)
    {
        using var admin = silo.Admin();
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "mask-bad", Weight = 2, Quotas = Quotas(7, 5, 9000) });

        var e = await Assert.ThrowsAsync<RpcException>(() => admin.PutTenantAsync(new PutTenantRequest
        {
            TenantId = "mask-bad", Weight = 5, UpdateMask = Mask("weight", path),
        }));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith(message, e.Status.Detail, StringComparison.Ordinal);
        Assert.Equal((2.0, 7, 5, 9000L), Settings(await admin.GetTenantAsync("mask-bad")));
    }

    [Theory]
    [InlineData(" padded-key ")]
    [InlineData("a key with spaces")]
    [InlineData("key-\U0001F600-abcdef")]
    [InlineData("tab\tinside-key")]
    [InlineData("nul\0inside-key")]
    public async Task PutTenant_AKeyNoClientCanSend_IsInvalidArgumentNamingApiKey_AndMakesNoTenant(string key)
    {
        using var admin = silo.Admin();

        var e = await Assert.ThrowsAsync<RpcException>(() => admin.PutTenantAsync(new PutTenantRequest { TenantId = "unsendable", ApiKey = key }));

        Assert.Equal(
            (StatusCode.InvalidArgument, "api_key: must be visible ASCII characters without spaces (a client sends it in an 'authorization: Bearer' header)"),
            (e.StatusCode, e.Status.Detail));
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => admin.GetTenantAsync("unsendable"))).StatusCode);
    }

    [Fact]
    public async Task PutTenant_AKeyOfAnyVisibleAsciiCharacters_Authenticates()
    {
        const string key = "k3y.with~punct/+=!\"#$%&'()*,:;<>?@[]^_`{|}";
        using var admin = silo.Admin();
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "punctuated", ApiKey = key });

        using var tenant = silo.Client(key);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => tenant.GetAsync("job-x"))).StatusCode);
    }

    [Theory]
    [InlineData("team\u200Bb")]
    [InlineData("ab\u202Ecd")]
    public async Task PutTenant_AnIdWithAnInvisibleCharacter_IsInvalidArgumentNamingTenantId_AndMakesNoTenant(string id)
    {
        using var admin = silo.Admin();

        var e = await Assert.ThrowsAsync<RpcException>(() => admin.PutTenantAsync(new PutTenantRequest { TenantId = id }));

        Assert.Equal(
            (StatusCode.InvalidArgument, "tenant_id: must be at most 128 UTF-16 code units (an emoji counts 2) without spaces, control or invisible formatting characters"),
            (e.StatusCode, e.Status.Detail));
        Assert.DoesNotContain(id, (await admin.ListTenantsAsync()).Select(t => t.TenantId));
    }

    private static TenantQuotas Quotas(int maxQueued, int requestsPerMinute, long tokensPerMinute) =>
        new() { MaxQueuedJobs = maxQueued, RequestsPerMinute = requestsPerMinute, TokensPerMinute = tokensPerMinute };

    private static FieldMask Mask(params string[] paths) => new() { Paths = { paths } };

    private static (double Weight, int MaxQueued, int RequestsPerMinute, long TokensPerMinute) Settings(Tenant t) =>
        (t.Weight, t.Quotas.MaxQueuedJobs, t.Quotas.RequestsPerMinute, t.Quotas.TokensPerMinute);
}
