using Scheduler.Protos.V1;

namespace Scheduler.Tests.Silo.Api;

/// <summary>AdminService.GetClusterSummary over real gRPC, in a silo of its own (the test counts its tenants'
/// activations).</summary>
public sealed class GetClusterSummaryTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    private IGrainFactory Grains => silo.Service<IGrainFactory>();

    [Fact]
    public async Task GetClusterSummary_TenantsGoneIdle_AreNotActivated()
    {
        // It asked every tenant ever created for its usage, per call: none was ever collected while `schedctl top`
        // polled, and a hundred thousand tenants cost a hundred thousand grain calls a poll.
        using var admin = silo.Admin();
        var tenants = Enumerable.Range(0, 5).Select(i => $"idle-summary-{i}").ToArray();
        await Grains.CreateIdleTenants(admin, tenants);

        var first = await admin.GetClusterSummaryAsync();
        var summaries = new List<ClusterSummary>();
        for (var i = 0; i < 3; i++)
        {
            summaries.Add(await admin.GetClusterSummaryAsync());
        }

        Assert.Empty(await Grains.ActiveTenants(tenants));
        Assert.True(first.Tenants >= tenants.Length + 1, $"{first.Tenants} tenants: the 5 made here and acme");
        Assert.All(summaries, s => Assert.Equal(first.Tenants, s.Tenants));
    }
}
