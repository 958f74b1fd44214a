namespace Scheduler.Tests.Silo.Api;

/// <summary>Which tenants' grains a silo holds activated: what the admin listings must not keep alive.</summary>
internal static class TenantActivations
{
    /// <summary>Which of <paramref name="tenants"/> have an activation in the silo.</summary>
    public static async Task<string[]> ActiveTenants(this IGrainFactory grains, string[] tenants)
    {
        var stats = await grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        return [.. stats.Where(s => s.GrainType.Contains("TenantGrain", StringComparison.Ordinal))
            .Select(s => s.GrainId.Key.ToString()!)
            .Where(id => tenants.Contains(id))];
    }
}
