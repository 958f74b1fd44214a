using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Scheduler.Abstractions.Audit;
using Scheduler.Protos.V1;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

/// <summary>Every admin action is on record — who (the admin key's fingerprint), what, when, from where — and
/// queryable newest first with filters.</summary>
public sealed class AuditLogTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    [Fact]
    public async Task ListAuditEvents_AfterAdminActions_NewestFirstWithActorAndOutcome()
    {
        var started = DateTimeOffset.UtcNow.AddSeconds(-1);
        using var admin = silo.Admin(SecuredSilo.ExtraAdminKey);
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "audited", Weight = 2, ApiKey = "audited-secret-key" });
        var key = await admin.CreateApiKeyAsync("audited");
        await admin.RevokeApiKeyAsync("audited", key.Key.KeyId);
        var cordon = await Assert.ThrowsAsync<RpcException>(() => admin.CordonAcceleratorAsync("no-such-accelerator"));
        Assert.Equal(StatusCode.NotFound, cordon.StatusCode);
        await admin.ListTenantsAsync();

        var events = await admin.ListAuditEventsAsync(new ListAuditEventsRequest { Since = Timestamp.FromDateTimeOffset(started) });
        var ours = events.Where(e => e.Actor == AdminKeys.Fingerprint(SecuredSilo.ExtraAdminKey)).ToList();
        Assert.Equal(["accelerator.cordon", "apikey.revoke", "apikey.create", "tenant.put"], ours.Select(e => e.Action));
        Assert.Equal(["NotFound", "ok", "ok", "ok"], ours.Select(e => e.Outcome));
        Assert.Equal(["no-such-accelerator", $"audited/{key.Key.KeyId}", "audited", "audited"], ours.Select(e => e.Target));
        Assert.All(ours, e => Assert.StartsWith("ipv", e.Peer));
        Assert.All(ours, e => Assert.InRange(e.At.ToDateTimeOffset(), started, DateTimeOffset.UtcNow.AddSeconds(1)));
        Assert.Contains("api_key=replaced", ours[3].Detail);
        Assert.Contains("weight=2", ours[3].Detail);

        // Never a secret: neither the tenant's key nor the admin key nor the created key.
        var all = string.Join("\n", events.Select(e => e.ToString()));
        Assert.DoesNotContain("audited-secret-key", all);
        Assert.DoesNotContain(SecuredSilo.ExtraAdminKey, all);
        Assert.DoesNotContain(key.Secret, all);

        var keysOnly = await admin.ListAuditEventsAsync(new ListAuditEventsRequest { Since = Timestamp.FromDateTimeOffset(started), Action = "apikey." });
        Assert.Equal(["apikey.revoke", "apikey.create"], keysOnly.Where(e => e.Target.StartsWith("audited", StringComparison.Ordinal)).Select(e => e.Action));
        var one = await admin.ListAuditEventsAsync(new ListAuditEventsRequest { Limit = 1 });
        Assert.Equal("accelerator.cordon", Assert.Single(one).Action);
        Assert.Empty(await admin.ListAuditEventsAsync(new ListAuditEventsRequest { Since = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(5)) }));
    }

    /// <summary>A put with an update_mask is recorded with the settings it changed only: before, the record listed every
    /// setting as the request carried it, so `tenant put acme --weight 2` read "max_queued_jobs=0 requests_per_minute=0
    /// tokens_per_minute=0" beside its mask, as if the quotas had been reset, while they were kept.</summary>
    [Fact]
    public async Task PutTenant_WithAnUpdateMask_IsRecordedWithTheSettingsItChangesOnly()
    {
        var started = DateTimeOffset.UtcNow.AddSeconds(-1);
        using var admin = silo.Admin(SecuredSilo.ExtraAdminKey);
        await admin.PutTenantAsync(new PutTenantRequest
        {
            TenantId = "audited-masked", Weight = 3, Quotas = new() { MaxQueuedJobs = 500, RequestsPerMinute = 600, TokensPerMinute = 2_000_000 },
        });
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "audited-masked", Weight = 2, UpdateMask = new FieldMask { Paths = { "weight" } } });
        await admin.PutTenantAsync(new PutTenantRequest
        {
            TenantId = "audited-masked", Quotas = new() { TokensPerMinute = 1_000 }, UpdateMask = new FieldMask { Paths = { "quotas.tokens_per_minute" } },
        });

        var events = await admin.ListAuditEventsAsync(new ListAuditEventsRequest { Since = Timestamp.FromDateTimeOffset(started), Action = "tenant.put" });
        var details = events.Where(e => e.Target == "audited-masked").Select(e => e.Detail).ToList();

        Assert.Equal(
            [
                "tokens_per_minute=1000 update_mask=quotas.tokens_per_minute",
                "weight=2 update_mask=weight",
                "weight=3 max_queued_jobs=500 requests_per_minute=600 tokens_per_minute=2000000",
            ],
            details);
    }

    [Fact]
    public async Task ListAuditEvents_LimitOutOfRange_NamesTheField()
    {
        using var admin = silo.Admin();
        var e = await Assert.ThrowsAsync<RpcException>(() => admin.ListAuditEventsAsync(new ListAuditEventsRequest { Limit = 5000 }));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith("limit:", e.Status.Detail);
    }

    [Fact]
    public async Task ListAuditEvents_MoreEventsThanAThousand_ReachesEveryEventTheLogKeeps()
    {
        // A listing stopped at 1,000 events, with no page token or end time to go further back, while the log keeps
        // 2,000: provisioning a thousand tenants hid every admin action before it.
        using var admin = silo.Admin();
        const string first = "audit-reach-first";
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = first, Weight = 1 });
        using var gate = new SemaphoreSlim(8);
        await Task.WhenAll(Enumerable.Range(0, 1100).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                await admin.PutTenantAsync(new PutTenantRequest { TenantId = $"audit-reach-{i}", Weight = 1 });
            }
            finally
            {
                gate.Release();
            }
        }));

        var events = await admin.ListAuditEventsAsync(new ListAuditEventsRequest { Limit = IAuditLogGrain.Capacity });
        Assert.Contains(events, e => e.Target == first);
        Assert.Equal(1100, events.Count(e => e.Target.StartsWith("audit-reach-", StringComparison.Ordinal) && e.Target != first));
    }

    [Theory]
    [InlineData("tenant.puts")]
    [InlineData("tenants.")]
    [InlineData("apikey")]
    [InlineData(".")]
    public async Task ListAuditEvents_ActionNoAuditedActionIsOrStartsWith_NamesTheFieldAndTheActions(string action)
    {
        // It answered an empty log, which reads as "nobody did that".
        using var admin = silo.Admin();
        var e = await Assert.ThrowsAsync<RpcException>(() => admin.ListAuditEventsAsync(new ListAuditEventsRequest { Action = action }));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith($"action: '{action}' is no audited action: use one of tenant.put, apikey.create", e.Status.Detail);
        Assert.Contains("(tenant., apikey., accelerator., node.)", e.Status.Detail);
    }

    [Theory]
    [InlineData(-62_135_596_801L, 0)]
    [InlineData(1_000_000_000_000_000L, 0)]
    [InlineData(1L, -1)]
    public async Task ListAuditEvents_SinceOutOfRange_NamesTheField(long seconds, int nanos)
    {
        // It was INTERNAL: the timestamp was converted unchecked.
        using var admin = silo.Admin();
        var e = await Assert.ThrowsAsync<RpcException>(
            () => admin.ListAuditEventsAsync(new ListAuditEventsRequest { Since = new Timestamp { Seconds = seconds, Nanos = nanos } }));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("since: is not a valid timestamp", e.Status.Detail);
    }

    [Fact]
    public async Task PutTenant_Refused_IsRecordedWithItsStatus()
    {
        using var admin = silo.Admin();
        var refused = await Assert.ThrowsAsync<RpcException>(() => admin.PutTenantAsync(new PutTenantRequest { TenantId = "bad-weight", Weight = -1 }));
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);

        var events = await admin.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "tenant.put" });
        var recorded = Assert.Single(events, e => e.Target == "bad-weight");
        Assert.Equal("InvalidArgument", recorded.Outcome);
        Assert.Equal(AdminKeys.Fingerprint("first-admin-key"), recorded.Actor);
    }
}
