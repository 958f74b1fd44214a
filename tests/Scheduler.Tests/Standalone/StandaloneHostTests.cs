using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Scheduler.Silo.Models;
using Scheduler.Standalone;

namespace Scheduler.Tests.Standalone;

public sealed class StandaloneHostTests
{
    [Fact]
    public async Task Build_LaysItsSettingsOverTheSilosAndUnderTheCommandLine()
    {
        await using var app = StandaloneHost.Build(["--Scheduler:EmbeddedFleet:SpeedUp=instant", "--Scheduler:EmbeddedFleet:Nodes:2:NodeId=cli-node"]);

        var fleet = app.Services.GetRequiredService<IOptions<EmbeddedFleetOptions>>().Value;
        var models = app.Services.GetRequiredService<IOptions<ModelCatalogOptions>>().Value.Models;

        // The silo's appsettings.json still supplies the model; the standalone's settings add the fleet.
        Assert.Equal("llama-3.1-8b", Assert.Single(models).Name);
        Assert.True(fleet.Enabled);
        Assert.Equal(["node-h100", "node-l4", "cli-node"], fleet.Nodes.Select(n => n.NodeId));
        Assert.Equal("instant", fleet.SpeedUp);
    }
}
