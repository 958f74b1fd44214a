using Microsoft.Extensions.Options;
using Scheduler.Silo.Models;
using Scheduler.Standalone;

namespace Scheduler.Tests.Standalone;

public sealed class EmbeddedFleetOptionsValidatorTests
{
    [Fact]
    public void Validate_AModelTheCatalogDoesNotList_IsRefusedNamingItsKey()
    {
        var result = Validator("llama-3.1-8b").Validate(null, Fleet(null, "other"));

        Assert.True(result.Failed);
        Assert.Equal(
            "Scheduler:EmbeddedFleet:Nodes:0:Accelerators:1:Model 'other' is not in the model catalog (Scheduler:Models: llama-3.1-8b); leave it unset to serve the first",
            Assert.Single(result.Failures!));
    }

    [Fact]
    public void Validate_UnsetModels_ServeTheCatalogsFirst_AndNeedOne()
    {
        Assert.True(Validator("a", "b").Validate(null, Fleet(null, "b")).Succeeded);

        var result = Validator().Validate(null, Fleet([null]));
        Assert.Equal("Scheduler:EmbeddedFleet:Nodes:0:Accelerators:0:Model is unset and Scheduler:Models lists no model to serve instead", Assert.Single(result.Failures!));
    }

    [Fact]
    public void Validate_ADisabledFleet_IsNotChecked()
    {
        var fleet = Fleet("other");
        fleet.Enabled = false;

        Assert.True(Validator().Validate(null, fleet).Succeeded);
    }

    private static EmbeddedFleetOptionsValidator Validator(params string[] models) =>
        new(Options.Create(new ModelCatalogOptions { Models = [.. models.Select(m => new ModelOptions { Name = m })] }));

    private static EmbeddedFleetOptions Fleet(params string?[] models)
    {
        var node = new EmbeddedNodeOptions { NodeId = "n" };
        node.Accelerators.AddRange(models.Select(m => new EmbeddedAcceleratorOptions { Model = m }));
        return new EmbeddedFleetOptions { Enabled = true, Nodes = [node] };
    }
}
