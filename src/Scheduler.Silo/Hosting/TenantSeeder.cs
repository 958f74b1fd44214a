using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Tenants;

namespace Scheduler.Silo.Hosting;

/// <summary>Creates the configured tenants that do not exist yet (the default "dev" and "team-b" tenants).</summary>
internal sealed class TenantSeeder(IGrainFactory grains, IOptions<TenantSeedingOptions> options) : IHostedService
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
                    // Another tenant was given this key through the admin API: starting would leave the seeded tenant
                    // unreachable, or (had the key been taken from the other) that tenant's clients billed to this one.
                    throw new InvalidOperationException(
                        $"Scheduler:Tenants: the key configured for tenant '{seed.Id}' is another tenant's (given through the admin API); configure another key");
                }
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
