using Scheduler.Tests.Faults;

namespace Scheduler.Tests.Silo.Hosting;

/// <summary>A silo given a setting its validators refuse stops at start-up with exit code 2 and one line naming the key,
/// not an unhandled exception and an abort.</summary>
public sealed class ConfigurationRefusalTests
{
    [Theory]
    [InlineData("--Scheduler:Scheduling:WaitCostUsdPerSecond=3.6", "Scheduler:Scheduling:WaitCostUsdPerSecond must be from 0 to 1")]
    [InlineData("--Scheduler:Scheduling:JobListRetention=00:00:00", "Scheduler:Scheduling:JobListRetention must be positive")]
    [InlineData("--Scheduler:Scheduling:PlacementPolicy=cheapest", "Scheduler:Scheduling:PlacementPolicy must be one of ")]
    [InlineData("--Scheduler:Scheduling:FairnessPolicy=fair", "Scheduler:Scheduling:FairnessPolicy must be one of ")]
    [InlineData("--Scheduler:Tenants:0:Weight=0", "Scheduler:Tenants:0:Weight must be a number from 0.001 to 1000, not 0")]
    public async Task Silo_ARefusedSetting_ExitsWithCode2_AndALineNamingTheKey(string setting, string refusal)
    {
        await using var silo = SiloProcess.Start(0, [setting]);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await silo.WaitForExitAsync(bound.Token);

        Assert.Equal(2, silo.ExitCode);
        Assert.Contains(silo.Output, line => line.StartsWith("configuration refused: " + refusal, StringComparison.Ordinal));
    }
}
