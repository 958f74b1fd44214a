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
                await tenant.Put(new TenantSettings(seed.Weight, quotas, seed.ApiKey));
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
