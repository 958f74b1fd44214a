using Scheduler.Grains;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

public sealed class WaitCostOptionsValidatorTests
{
    [Theory]
    [InlineData(0.001)]
    [InlineData(0)]
    [InlineData(1)]
    public void Validate_AcceptsAPriceFromZeroToOneDollar(double price)
    {
        Assert.True(new WaitCostOptionsValidator().Validate(null, new PlacementOptions { WaitCostUsdPerSecond = price }).Succeeded);
    }

    [Fact]
    public void Validate_AcceptsTheDefault()
    {
        Assert.True(new WaitCostOptionsValidator().Validate(null, new PlacementOptions()).Succeeded);
    }

    [Theory]
    [InlineData(-0.001)]
    [InlineData(3.6)]
    [InlineData(double.NaN)]
    public void Validate_RefusesAPriceThePolicyCannotTake_NamingTheKey(double price)
    {
        var result = new WaitCostOptionsValidator().Validate(null, new PlacementOptions { WaitCostUsdPerSecond = price });

        Assert.True(result.Failed);
        Assert.StartsWith("Scheduler:Scheduling:WaitCostUsdPerSecond must be from 0 to 1", result.FailureMessage);
    }

    [Theory]
    [InlineData(-0.001)]
    [InlineData(3.6)]
    [InlineData(double.NaN)]
    public void Validate_RefusesASessionWaitPriceThePolicyCannotTake_NamingTheKey(double price)
    {
        var result = new WaitCostOptionsValidator().Validate(null, new PlacementOptions { SessionWaitCostUsdPerSecond = price });

        Assert.True(result.Failed);
        Assert.StartsWith("Scheduler:Scheduling:SessionWaitCostUsdPerSecond must be from 0 to 1", result.FailureMessage);
    }

    [Fact]
    public void Validate_AcceptsASessionWaitPriceUpToOneDollar()
    {
        Assert.True(new WaitCostOptionsValidator().Validate(null, new PlacementOptions { SessionWaitCostUsdPerSecond = 1 }).Succeeded);
    }
}
