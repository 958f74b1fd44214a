using Orleans.Core.Internal;
using Scheduler.Abstractions.Tenants;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Silo.Api;

/// <summary>Which tenants' grains a silo holds activated: what the admin listings must not keep alive.</summary>
internal static class TenantActivations
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);

    /// <summary>Creates <paramref name="tenants"/> and waits until their grains are collected, after the cluster's usage
    /// sum (which reads every tenant once, when it activates) has read them.</summary>
    public static async Task CreateIdleTenants(this IGrainFactory grains, SchedulerAdminClient admin, string[] tenants)
    {
        foreach (var tenant in tenants)
        {
            await admin.PutTenantAsync(new PutTenantRequest { TenantId = tenant });
        }

        await grains.GetGrain<IClusterUsageGrain>(IClusterUsageGrain.Key).Get();
        foreach (var tenant in tenants)
        {
            await grains.GetGrain<ITenantGrain>(tenant).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        }

        await Polling.Until(async () => (await grains.ActiveTenants(tenants)).Length == 0, "the tenants are collected", s_wait, TimeSpan.FromMilliseconds(50));
    }

    /// <summary>Which of <paramref name="tenants"/> have an activation in the silo.</summary>
    public static async Task<string[]> ActiveTenants(this IGrainFactory grains, string[] tenants)
    {
        var stats = await grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        return [.. stats.Where(s => s.GrainType.Contains("TenantGrain", StringComparison.Ordinal))
            .Select(s => s.GrainId.Key.ToString()!)
            .Where(id => tenants.Contains(id))];
    }
}
