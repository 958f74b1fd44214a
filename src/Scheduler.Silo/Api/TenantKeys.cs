using System.Buffers.Text;
using System.Security.Cryptography;
using Google.Protobuf.WellKnownTypes;
using Scheduler.Abstractions.Tenants;
using Proto = Scheduler.Protos.V1;

namespace Scheduler.Silo.Api;

/// <summary>Tenants' API keys as the admin API makes, lists and revokes them. A key reads
/// <c>sk-sch-&lt;key id&gt;-&lt;secret&gt;</c>: 48 random bits name it, 192 more make it unguessable; only its SHA-256
/// is stored, and the whole key is shown once, in the answer that creates it.</summary>
internal sealed class TenantKeys(IGrainFactory grains, ApiKeyCache cache, TimeProvider time)
{
    private const string KeyPrefix = "sk-sch-";

    public async Task<Proto.CreateApiKeyResponse> Create(string tenantId)
    {
        var keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = $"{KeyPrefix}{keyId}-{Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(24))}";
        var key = new TenantApiKey(keyId, KeyPrefix + keyId, ApiKeyHash.Of(secret), time.GetUtcNow());
        switch (await Tenant(tenantId).AddKey(key))
        {
            case AddKeyResult.UnknownTenant:
                throw SchedulerErrors.NotFound("tenant", tenantId);
            case AddKeyResult.TooManyKeys:
                throw SchedulerErrors.FailedPrecondition(
                    "KEY_LIMIT",
                    "tenant_id",
                    $"tenant_id: tenant '{SchedulerErrors.Echo(tenantId)}' already holds {ITenantGrain.MaxKeys} keys; revoke one first");
        }

        return new Proto.CreateApiKeyResponse { Key = ToProto(tenantId, key, lastUsed: null), Secret = secret };
    }

    public async Task<Proto.ListApiKeysResponse> List(string tenantId, string prefix)
    {
        var keys = await Tenant(tenantId).ListKeys() ?? throw SchedulerErrors.NotFound("tenant", tenantId);
        var matching = keys.Where(k => k.Prefix.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
        var lastUsed = await Task.WhenAll(matching.Select(LastUsed));
        var response = new Proto.ListApiKeysResponse();
        response.Keys.AddRange(matching.Select((k, i) => ToProto(tenantId, k, lastUsed[i])));
        return response;
    }

    public async Task<Proto.ApiKey> Revoke(string tenantId, string keyId)
    {
        var key = await Tenant(tenantId).RevokeKey(keyId) ?? throw SchedulerErrors.NotFound("API key", $"{tenantId}/{keyId}");
        cache.Forget(key.Hash);

        // Its last use as the listing shows it, now final: a revoked key's lookups find no tenant and count no use.
        // Without it, schedctl's answer to a revoke read LAST USED "-" for a key that was in use.
        return ToProto(tenantId, key, await LastUsed(key));
    }

    private ITenantGrain Tenant(string tenantId) => grains.GetGrain<ITenantGrain>(tenantId);

    private Task<DateTimeOffset?> LastUsed(TenantApiKey key) => grains.GetGrain<IApiKeyGrain>(key.Hash).LastUsed();

    private static Proto.ApiKey ToProto(string tenantId, TenantApiKey key, DateTimeOffset? lastUsed)
    {
        var proto = new Proto.ApiKey { TenantId = tenantId, KeyId = key.KeyId, Prefix = key.Prefix };
        if (key.CreatedAt != DateTimeOffset.MinValue)
        {
            proto.CreatedAt = Timestamp.FromDateTimeOffset(key.CreatedAt);
        }

        if (lastUsed is { } used)
        {
            proto.LastUsedAt = Timestamp.FromDateTimeOffset(used);
        }

        return proto;
    }
}
