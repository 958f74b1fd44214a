using Scheduler.Grains;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

public sealed class JobRetentionOptionsValidatorTests
{
    private static string? Refusal(PlacementOptions options) => new JobRetentionOptionsValidator().Validate(null, options).FailureMessage;

    [Fact]
    public void Validate_AcceptsTheDefaults()
    {
        Assert.True(new JobRetentionOptionsValidator().Validate(null, new PlacementOptions()).Succeeded);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-1.00:00:00")]
    [InlineData("3651.00:00:00")]
    public void Validate_RefusesARetentionStorageCannotKeep_NamingTheKey(string retention)
    {
        var refusal = Refusal(new PlacementOptions { JobRetention = TimeSpan.Parse(retention), IdempotencyKeyLifetime = TimeSpan.FromMinutes(1) });

        Assert.StartsWith("Scheduler:Scheduling:JobRetention (formerly JobListRetention) must be positive and at most 3650 days; it is ", refusal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(10_000_001)]
    public void Validate_RefusesACountBoundOutOfRange_NamingTheKey(int max)
    {
        Assert.Equal(
            $"Scheduler:Scheduling:MaxSettledJobsInMemory must be from 1 to 10000000; it is {max}",
            Refusal(new PlacementOptions { MaxSettledJobsInMemory = max }));
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("7.00:00:00.001")]
    [InlineData("30.00:00:00")]
    public void Validate_RefusesAnIdempotencyKeyOutlivingTheRecordOfItsJob_NamingBothKeys(string lifetime)
    {
        Assert.StartsWith(
            "Scheduler:Scheduling:IdempotencyKeyLifetime must be positive and at most Scheduler:Scheduling:JobRetention (7.00:00:00), so a key never names a job whose record is gone; it is ",
            Refusal(new PlacementOptions { IdempotencyKeyLifetime = TimeSpan.Parse(lifetime) }));
    }

    [Fact]
    public void Validate_AcceptsAKeyLifetimeEqualToTheRetention()
    {
        Assert.Null(Refusal(new PlacementOptions { JobRetention = TimeSpan.FromHours(2), IdempotencyKeyLifetime = TimeSpan.FromHours(2) }));
    }
}
