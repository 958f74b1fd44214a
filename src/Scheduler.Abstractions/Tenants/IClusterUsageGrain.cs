namespace Scheduler.Abstractions.Tenants;

/// <summary>The cluster's usage: each tenant's latest cumulative <see cref="TenantUsage"/> and their sum, which
/// <c>AdminService.GetClusterSummary</c> reads in one call however many tenants there are. Singleton (key
/// <see cref="Key"/>), in memory: a tenant reports its usage when it changed (at most once a
/// <c>Scheduling:TenantUsageReportInterval</c>), when it activates and when it deactivates, and an activation of this
/// grain reads every tenant's usage once. A report carries the whole usage, not an increment, so a repeated or late
/// report cannot count anything twice: the newest by <c>version</c> holds.</summary>
public interface IClusterUsageGrain : IGrainWithStringKey
{
    const string Key = "cluster";

    /// <summary><paramref name="tenantId"/>'s usage as of <paramref name="version"/> (its activation's clock, in ticks,
    /// increasing with each report): it replaces the tenant's usage held unless that is as new or newer. Interleaves: it
    /// waits on nothing, and a read of the sum waiting for the tenants' usage must not hold up a deactivating tenant's
    /// report, which that tenant's read waits for.</summary>
    [AlwaysInterleave]
    Task Report(string tenantId, TenantUsage usage, long version);

    /// <summary>The sum of every tenant's latest usage.</summary>
    Task<TenantUsage> Get();
}
