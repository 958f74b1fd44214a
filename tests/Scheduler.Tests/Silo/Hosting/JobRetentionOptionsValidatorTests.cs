using Scheduler.Grains;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

public sealed class JobRetentionOptionsValidatorTests
{
    [Fact]
    public void Validate_AcceptsTheDefault()
    {
        Assert.True(new JobRetentionOptionsValidator().Validate(null, new PlacementOptions()).Succeeded);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-1.00:00:00")]
    [InlineData("3651.00:00:00")]
    public void Validate_RefusesARetentionStorageCannotKeep_NamingTheKey(string retention)
    {
        var result = new JobRetentionOptionsValidator().Validate(null, new PlacementOptions { JobListRetention = TimeSpan.Parse(retention) });

        Assert.True(result.Failed);
        Assert.StartsWith("Scheduler:Scheduling:JobListRetention must be positive", result.FailureMessage);
    }
}
