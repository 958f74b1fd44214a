using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Tenants;

namespace Scheduler.Silo.Hosting;

/// <summary>Creates the configured tenants that do not exist yet (the default "dev" and "team-b" tenants), and binds a
/// configured tenant's key again where the tenant still names it as its configured key but the key resolves to no tenant
/// (what Redis losing its data leaves behind: see <see cref="RestoreConfiguredKey"/>).</summary>
internal sealed partial class TenantSeeder(IGrainFactory grains, IOptions<TenantSeedingOptions> options, ILogger<TenantSeeder> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var seed in options.Value.Tenants)
        {
            var tenant = grains.GetGrain<ITenantGrain>(seed.Id);
            if (await tenant.Get() is null)
            {
                var quotas = seed.MaxQueuedJobs > 0 ? TenantQuotas.Default with { MaxQueuedJobs = seed.MaxQueuedJobs } : TenantQuotas.Default;
                var result = await tenant.Put(new TenantSettings(seed.Weight, quotas, seed.ApiKey.Length > 0 ? seed.ApiKey : null));
                if (result.KeyInUse)
                {
                    throw KeyOfAnotherTenant(seed);
                }
            }
            else if (seed.ApiKey.Length > 0)
            {
                await RestoreConfiguredKey(tenant, seed);
            }
        }
    }

    /// <summary>
    /// Binds the configured key to its tenant again if the tenant lists it as its configured key and the key resolves to
    /// no tenant. Normal operation never leaves that state (a key is bound before a tenant lists it, and leaves the listing
    /// when it is revoked), so nothing an operator did through the admin API is undone: a tenant whose configured key was
    /// changed or revoked there no longer lists this one and is left as it is. Redis losing its data does leave it: a silo
    /// of the cluster from before the loss wrote its tenant's state (which names the key) back into the emptied store,
    /// while the key's own record, held by no grain that writes it, stayed lost; the tenant then existed, was not seeded,
    /// and its clients were refused as unauthenticated.
    /// </summary>
    private async Task RestoreConfiguredKey(ITenantGrain tenant, TenantSeedOptions seed)
    {
        var hash = ApiKeyHash.Of(seed.ApiKey);
        var configured = (await tenant.ListKeys())?.FirstOrDefault(k => k.KeyId == ITenantGrain.ConfiguredKeyId);
        if (configured is null || configured.Hash != hash)
        {
            return;
        }

        var key = grains.GetGrain<IApiKeyGrain>(hash);
        var holder = await key.Holder();
        if (holder == seed.Id)
        {
            return;
        }

        if (holder is not null || !await key.Assign(seed.Id))
        {
            throw KeyOfAnotherTenant(seed);
        }

        LogKeyRestored(logger, seed.Id);
    }

    // Another tenant was given this key through the admin API: starting would leave the seeded tenant unreachable, or
    // (had the key been taken from the other) that tenant's clients billed to this one.
    private static InvalidOperationException KeyOfAnotherTenant(TenantSeedOptions seed) => new(
        $"Scheduler:Tenants: the key configured for tenant '{seed.Id}' is another tenant's (given through the admin API); configure another key");

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant '{TenantId}' lists its configured key, but the key resolved to no tenant (Redis lost its data?): bound to the tenant again")]
    private static partial void LogKeyRestored(ILogger logger, string tenantId);
}
