using Scheduler.Grains;
using Scheduler.Policies;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

public sealed class PolicyNamesOptionsValidatorTests
{
    [Fact]
    public void Validate_AcceptsEveryKnownName()
    {
        foreach (var placement in SchedulingPolicies.PlacementNames)
        {
            var options = new PlacementOptions { PlacementPolicy = placement, FairnessPolicy = "fifo", BatchingPolicy = "request-level" };
            Assert.True(new PolicyNamesOptionsValidator().Validate(null, options).Succeeded, placement);
        }
    }

    [Fact]
    public void Validate_RefusesAnUnknownName_NamingTheKeyAndTheKnownOnes()
    {
        var result = new PolicyNamesOptionsValidator().Validate(null, new PlacementOptions { PlacementPolicy = "cheapest", BatchingPolicy = "static" });

        Assert.Equal(
            [$"Scheduler:Scheduling:PlacementPolicy must be one of {string.Join(", ", SchedulingPolicies.PlacementNames)}; it is 'cheapest'",
             $"Scheduler:Scheduling:BatchingPolicy must be one of {string.Join(", ", SchedulingPolicies.BatchingNames)}; it is 'static'"],
            result.Failures);
    }
}
