using Scheduler.Abstractions.Tenants;
using PutTenantRequest = Scheduler.Protos.V1.PutTenantRequest;

namespace Scheduler.Silo.Api;

/// <summary>What a <c>PutTenant</c> changes, from its <c>update_mask</c> (AIP-134's field paths). Without a mask, every
/// setting is replaced, as before the mask existed: a client that sends only a weight then resets the quotas it did not
/// send, which is why clients changing one setting should send a mask.</summary>
internal static class TenantUpdateMask
{
    private const string ApiKey = "api_key";

    private static readonly Dictionary<string, TenantFields> Paths = new(StringComparer.Ordinal)
    {
        ["weight"] = TenantFields.Weight,
        ["quotas"] = TenantFields.Quotas,
        ["quotas.max_queued_jobs"] = TenantFields.MaxQueuedJobs,
        ["quotas.requests_per_minute"] = TenantFields.RequestsPerMinute,
        ["quotas.tokens_per_minute"] = TenantFields.TokensPerMinute,
        ["*"] = TenantFields.All,
    };

    /// <summary>The settings a put gives the tenant (unset ones their defaults), and which of them it changes: the tenant
    /// grain keeps the others as they are.</summary>
    public static (TenantSettings Settings, TenantFields Fields) Read(PutTenantRequest request)
    {
        var fields = Fields(request);
        var q = request.Quotas;
        var quotas = q is null ? TenantQuotas.Default : new TenantQuotas(q.MaxQueuedJobs, q.RequestsPerMinute, q.TokensPerMinute);
        return (new TenantSettings(request.Weight > 0 ? request.Weight : 1, quotas, ReplacesKey(request) ? request.ApiKey : null), fields);
    }

    private static TenantFields Fields(PutTenantRequest request)
    {
        if (request.UpdateMask is not { } mask)
        {
            return TenantFields.All;
        }

        var fields = TenantFields.None;
        foreach (var path in mask.Paths)
        {
            if (Paths.TryGetValue(path, out var named))
            {
                fields |= named;
            }
            else if (path != ApiKey)
            {
                throw SchedulerErrors.InvalidArgument(
                    "update_mask", $"'{SchedulerErrors.Echo(path)}' is not a field a put can change: use {string.Join(", ", Paths.Keys.Prepend(ApiKey))}");
            }
        }

        // A tenant keeps a key: the mask may name it only to replace it ("*" with no key given keeps the one it has).
        if (request.ApiKey.Length == 0 && mask.Paths.Contains(ApiKey))
        {
            throw SchedulerErrors.InvalidArgument(ApiKey, "is named in update_mask but empty: a tenant's key can be replaced, not removed");
        }

        return fields;
    }

    /// <summary>The settings the put changes, if it is valid (for its audit record, written either way): a path the
    /// mask should not hold counts for nothing here, since such a put is refused and changes nothing.</summary>
    public static TenantFields Changes(PutTenantRequest request) =>
        request.UpdateMask is { } mask ? mask.Paths.Aggregate(TenantFields.None, (fields, path) => fields | Paths.GetValueOrDefault(path)) : TenantFields.All;

    /// <summary>Whether the put replaces the tenant's key, if it is valid (for its audit record, written either way).</summary>
    public static bool ReplacesKey(PutTenantRequest request) =>
        request.ApiKey.Length > 0 && (request.UpdateMask is null || request.UpdateMask.Paths.Any(p => p is ApiKey or "*"));
}
