namespace Scheduler.Silo.Hosting;

/// <summary>Tenants created at start-up if absent (section "Scheduler"; the defaults have "dev" with key "dev-key").</summary>
public sealed class TenantSeedingOptions
{
    public List<TenantSeedOptions> Tenants { get; set; } = [];
}
