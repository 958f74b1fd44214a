using Scheduler.Grains;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

public sealed class CapacityOptionsValidatorTests
{
    [Fact]
    public void Validate_AcceptsTheDefaults()
    {
        Assert.True(new CapacityOptionsValidator().Validate(null, new PlacementOptions()).Succeeded);
    }

    [Fact]
    public void Validate_RefusesSettingsThePolicyCannotSizeWith_NamingEachKey()
    {
        var options = new PlacementOptions
        {
            Capacity = new CapacityOptions
            {
                Window = TimeSpan.Zero, ColdStart = TimeSpan.FromSeconds(-1), MaxReplicasPerPool = 0, TargetUtilisation = 0,
                PeakLookback = TimeSpan.FromSeconds(-1), BurstUtilisation = 1.5, WarmFloor = -1, AttainmentObjective = 1.5,
            },
        };

        var result = new CapacityOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Equal(
            ["Window", "ColdStart", "MaxReplicasPerPool", "TargetUtilisation", "PeakLookback", "BurstUtilisation", "WarmFloor", "AttainmentObjective"],
            result.Failures!.Select(f => f.Split(' ')[0]["Scheduler:Scheduling:Capacity:".Length..]));
    }
}
