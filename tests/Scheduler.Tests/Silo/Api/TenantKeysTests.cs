using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Silo.Api;

/// <summary>Tenants' API keys over real gRPC: several at once, listed without secrets, revoked, with their errors.</summary>
public sealed class TenantKeysTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    [Fact]
    public async Task CreateApiKey_SecondKey_BothWorkUntilTheOldIsRevoked()
    {
        using var admin = silo.Admin();
        var first = await admin.CreateApiKeyAsync(SecuredSilo.Tenant);
        var second = await admin.CreateApiKeyAsync(SecuredSilo.Tenant);
        Assert.StartsWith(first.Key.Prefix + "-", first.Secret);
        Assert.NotEqual(first.Key.KeyId, second.Key.KeyId);

        // Rotation: old and new both work, and so does the configured key.
        await AssertWorks(first.Secret);
        await AssertWorks(second.Secret);
        await AssertWorks(SecuredSilo.ConfiguredKey);

        var revoked = await admin.RevokeApiKeyAsync(SecuredSilo.Tenant, first.Key.KeyId);
        Assert.Equal(first.Key.KeyId, revoked.KeyId);

        // The silo that revoked it forgets it at once, though it used the key a moment ago (its cache holds keys 1 s).
        await AssertRefused(first.Secret);
        await AssertWorks(second.Secret);

        var again = await Assert.ThrowsAsync<RpcException>(() => admin.RevokeApiKeyAsync(SecuredSilo.Tenant, first.Key.KeyId));
        Assert.Equal(StatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task ListApiKeys_ShowsPrefixesAndUse_NeverTheSecret_RevokeAnswersTheSameUse()
    {
        using var admin = silo.Admin();
        var created = await admin.CreateApiKeyAsync(SecuredSilo.Tenant);
        var unused = await admin.CreateApiKeyAsync(SecuredSilo.Tenant);
        await AssertWorks(created.Secret);

        var all = await admin.ListApiKeysAsync(SecuredSilo.Tenant);
        Assert.Contains(all, k => k.KeyId == "configured" && k.Prefix == "");
        var listed = Assert.Single(all, k => k.KeyId == created.Key.KeyId);
        Assert.Equal(created.Key.Prefix, listed.Prefix);
        Assert.Equal(created.Key.CreatedAt, listed.CreatedAt);
        Assert.NotNull(listed.LastUsedAt);
        Assert.Null(Assert.Single(all, k => k.KeyId == unused.Key.KeyId).LastUsedAt);
        var text = string.Join("\n", all.Select(k => k.ToString()));
        Assert.DoesNotContain(created.Secret, text);
        Assert.DoesNotContain(created.Secret[(created.Key.Prefix.Length + 1)..], text);

        var byPrefix = await admin.ListApiKeysAsync(SecuredSilo.Tenant, created.Key.Prefix);
        Assert.Equal(created.Key.KeyId, Assert.Single(byPrefix).KeyId);

        // A revoked key is answered as listed, its last use included: without it, schedctl's revoke printed LAST USED
        // "-" for a key in use.
        Assert.Equal(listed.LastUsedAt, (await admin.RevokeApiKeyAsync(SecuredSilo.Tenant, created.Key.KeyId)).LastUsedAt);
        Assert.Null((await admin.RevokeApiKeyAsync(SecuredSilo.Tenant, unused.Key.KeyId)).LastUsedAt);
    }

    [Fact]
    public async Task RevokeApiKey_ConfiguredKey_StopsIt()
    {
        using var admin = silo.Admin();
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "revoke-configured", Weight = 1, ApiKey = "revoke-configured-key" });
        await AssertWorks("revoke-configured-key");

        await admin.RevokeApiKeyAsync("revoke-configured", "configured");

        await AssertRefused("revoke-configured-key");
        Assert.DoesNotContain(await admin.ListApiKeysAsync("revoke-configured"), k => k.KeyId == "configured");
    }

    /// <summary>A StreamJobs call was authenticated once, at its start: one kept open (a gateway's, for hours) went on
    /// making jobs with a key revoked meanwhile, and the key's last-used time, which an operator watches before revoking,
    /// stood still (a probe: a submission 12 s after the revocation was queued). Each submission checks the key again.</summary>
    [Fact]
    public async Task StreamJobs_KeyRevokedWhileTheCallIsOpen_LaterSubmissionsRefusedUnauthenticated_ItsJobStreamsOn()
    {
        using var admin = silo.Admin();
        var created = await admin.CreateApiKeyAsync(SecuredSilo.Tenant);
        using var client = silo.Client(created.Secret);
        using var call = client.StreamMany(DateTime.UtcNow.AddSeconds(60));
        var job = new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "no replica: it waits", MaxTokens = 4 };
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "before", Job = job });
        Assert.True(await call.ResponseStream.MoveNext());
        var queued = call.ResponseStream.Current;
        Assert.Equal(("before", JobEvent.EventOneofCase.Queued), (queued.Ref, queued.Event?.EventCase ?? default));

        await admin.RevokeApiKeyAsync(SecuredSilo.Tenant, created.Key.KeyId);
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "after", Job = job });
        Assert.True(await call.ResponseStream.MoveNext());
        var refused = call.ResponseStream.Current;
        Assert.Equal(("after", (int)StatusCode.Unauthenticated, "invalid API key"), (refused.Ref, refused.Refused?.Code ?? 0, refused.Refused?.Message));

        // The job accepted before runs on, on the call: cancelled with another key, its end comes under its ref.
        using var owner = silo.Client(SecuredSilo.ConfiguredKey);
        await owner.CancelAsync(queued.Event!.JobId);
        await call.RequestStream.CompleteAsync();
        var rest = await call.ResponseStream.ReadAllAsync().ToListAsync();
        Assert.Equal(("before", JobEvent.EventOneofCase.Cancelled), (rest[^1].Ref, rest[^1].Event?.EventCase ?? default));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    /// <summary>A configured key given up by its tenant and then given to another names that other tenant: a call opened
    /// with it for the first makes no job for either any more.</summary>
    [Fact]
    public async Task StreamJobs_KeyNowAnotherTenants_LaterSubmissionsRefusedUnauthenticated()
    {
        using var admin = silo.Admin();
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "stream-giver", Weight = 1, ApiKey = "stream-moved-key" });
        using var client = silo.Client("stream-moved-key");
        using var call = client.StreamMany(DateTime.UtcNow.AddSeconds(60));
        var job = new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "x", MaxTokens = 0 };
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "first", Job = job });
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal((int)StatusCode.InvalidArgument, call.ResponseStream.Current.Refused.Code);

        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "stream-giver", Weight = 1, ApiKey = "stream-giver-next-key" });
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "stream-taker", Weight = 1, ApiKey = "stream-moved-key" });
        await Task.Delay(TimeSpan.FromSeconds(SecuredSilo.KeyCacheSeconds + 0.5));
        await call.RequestStream.WriteAsync(new StreamJobsRequest { Ref = "second", Job = job });
        Assert.True(await call.ResponseStream.MoveNext());
        var refused = call.ResponseStream.Current.Refused;
        Assert.Equal((int)StatusCode.Unauthenticated, refused.Code);
        Assert.Equal("the call's API key is no longer tenant 'stream-giver''s: open a new call", refused.Message);
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext());
    }

    [Fact]
    public async Task CreateApiKey_BadRequests_NameTheField()
    {
        using var admin = silo.Admin();
        var unknown = await Assert.ThrowsAsync<RpcException>(() => admin.CreateApiKeyAsync("no-such-tenant"));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        var empty = await Assert.ThrowsAsync<RpcException>(() => admin.CreateApiKeyAsync(""));
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
        Assert.StartsWith("tenant_id:", empty.Status.Detail);
        var noKeyId = await Assert.ThrowsAsync<RpcException>(() => admin.RevokeApiKeyAsync(SecuredSilo.Tenant, ""));
        Assert.StartsWith("key_id:", noKeyId.Status.Detail);
        var listUnknown = await Assert.ThrowsAsync<RpcException>(() => admin.ListApiKeysAsync("no-such-tenant"));
        Assert.Equal(StatusCode.NotFound, listUnknown.StatusCode);

        // A tenant key is not an admin key.
        using var tenantAsAdmin = silo.Admin(SecuredSilo.ConfiguredKey);
        var denied = await Assert.ThrowsAsync<RpcException>(() => tenantAsAdmin.CreateApiKeyAsync(SecuredSilo.Tenant));
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
    }

    [Fact]
    public async Task CreateApiKey_BeyondTheLimit_IsRefusedUntilOneIsRevoked()
    {
        using var admin = silo.Admin();
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "many-keys", Weight = 1 });
        var keys = new List<CreateApiKeyResponse>();
        for (var i = 0; i < 16; i++)
        {
            keys.Add(await admin.CreateApiKeyAsync("many-keys"));
        }

        var refused = await Assert.ThrowsAsync<RpcException>(() => admin.CreateApiKeyAsync("many-keys"));
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("revoke one first", refused.Status.Detail);

        await admin.RevokeApiKeyAsync("many-keys", keys[0].Key.KeyId);
        var after = await admin.CreateApiKeyAsync("many-keys");
        await AssertWorks(after.Secret);
        await AssertWorks(keys[15].Secret);
    }

    [Fact]
    public async Task PutTenant_WithAnotherTenantsKey_IsRefused_AndChangesNothing()
    {
        using var admin = silo.Admin();
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "key-owner", Weight = 1, ApiKey = "key-owner-secret" });
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "key-taker", Weight = 1, ApiKey = "key-taker-secret" });

        // Before the fix the key moved to the taker: the owner's clients were then billed to the taker.
        var taken = await Assert.ThrowsAsync<RpcException>(
            () => admin.PutTenantAsync(new PutTenantRequest { TenantId = "key-taker", Weight = 5, ApiKey = "key-owner-secret" }));
        Assert.Equal(StatusCode.AlreadyExists, taken.StatusCode);
        Assert.StartsWith("api_key: is another tenant's key", taken.Status.Detail);
        var created = await Assert.ThrowsAsync<RpcException>(
            () => admin.PutTenantAsync(new PutTenantRequest { TenantId = "key-newcomer", Weight = 1, ApiKey = "key-owner-secret" }));
        Assert.Equal(StatusCode.AlreadyExists, created.StatusCode);

        using var owner = silo.Client("key-owner-secret");
        var job = await owner.SubmitAsync(new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "Hi", MaxTokens = 1 });
        Assert.Equal("key-owner", job.TenantId);
        Assert.Equal(1, (await admin.GetTenantAsync("key-taker")).Weight);
        await AssertWorks("key-taker-secret");
        var newcomer = await Assert.ThrowsAsync<RpcException>(() => admin.GetTenantAsync("key-newcomer"));
        Assert.Equal(StatusCode.NotFound, newcomer.StatusCode);

        // A tenant may be put again with its own key; and a key its owner gave up may go to another.
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "key-owner", Weight = 2, ApiKey = "key-owner-secret" });
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "key-owner", Weight = 2, ApiKey = "key-owner-next-secret" });
        await admin.PutTenantAsync(new PutTenantRequest { TenantId = "key-taker", Weight = 1, ApiKey = "key-owner-secret" });

        // The silo cached the key as the owner's a moment ago, and keeps it for its key cache time.
        await Task.Delay(TimeSpan.FromSeconds(SecuredSilo.KeyCacheSeconds + 0.5));
        using var taker = silo.Client("key-owner-secret");
        Assert.Equal("key-taker", (await taker.SubmitAsync(new SubmitJobRequest { Model = "llama-3.1-8b", Prompt = "Hi", MaxTokens = 1 })).TenantId);
    }

    [Theory]
    [InlineData("first-admin-key")]
    [InlineData(SecuredSilo.ExtraAdminKey)]
    [InlineData(SecuredSilo.NodeToken)]
    public async Task PutTenant_WithAnAdminKeyOrTheNodeToken_IsRefused(string key)
    {
        using var admin = silo.Admin();
        var e = await Assert.ThrowsAsync<RpcException>(() => admin.PutTenantAsync(new PutTenantRequest { TenantId = "sneaky", Weight = 1, ApiKey = key }));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith("api_key: is an admin key or the node token", e.Status.Detail);
    }

    private async Task AssertWorks(string key)
    {
        using var client = silo.Client(key);
        var e = await Assert.ThrowsAsync<RpcException>(() => client.GetAsync("no-such-job"));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
    }

    private async Task AssertRefused(string key)
    {
        using var client = silo.Client(key);
        var e = await Assert.ThrowsAsync<RpcException>(() => client.GetAsync("no-such-job"));
        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
    }
}
