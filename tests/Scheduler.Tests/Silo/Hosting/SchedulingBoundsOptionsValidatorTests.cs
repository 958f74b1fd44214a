using Scheduler.Grains;
using Scheduler.Silo.Hosting;

namespace Scheduler.Tests.Silo.Hosting;

public sealed class SchedulingBoundsOptionsValidatorTests
{
    [Fact]
    public void Validate_TheDefaults_Succeed() =>
        Assert.True(new SchedulingBoundsOptionsValidator().Validate(null, new PlacementOptions()).Succeeded);

    [Theory]
    [InlineData("HeartbeatInterval", "00:00:00", "Scheduler:Scheduling:HeartbeatInterval must be positive and at most 01:00:00; it is 00:00:00")]
    [InlineData("NodeLease", "00:00:02", "Scheduler:Scheduling:NodeLease must be longer than Scheduler:Scheduling:HeartbeatInterval (00:00:02), so a node heartbeats within its lease, and at most 01:00:00; it is 00:00:02")]
    [InlineData("RejectionHold", "00:00:00", "Scheduler:Scheduling:RejectionHold must be positive and at most 01:00:00; it is 00:00:00")]
    [InlineData("RejectionHold", "5.00:00:00", "Scheduler:Scheduling:RejectionHold must be positive and at most 01:00:00; it is 5.00:00:00")]
    [InlineData("OverloadRetryAfter", "-00:00:01", "Scheduler:Scheduling:OverloadRetryAfter must be positive and at most 01:00:00; it is -00:00:01")]
    [InlineData("TenantStateWriteInterval", "00:00:00", "Scheduler:Scheduling:TenantStateWriteInterval must be positive and at most 01:00:00; it is 00:00:00")]
    [InlineData("ContendedPrefillWindow", "-00:00:01", "Scheduler:Scheduling:ContendedPrefillWindow must be from 0 to 01:00:00; it is -00:00:01")]
    [InlineData("SetAsideWithinClassAfter", "-00:00:01", "Scheduler:Scheduling:SetAsideWithinClassAfter must be from 0 (never) to 01:00:00; it is -00:00:01")]
    [InlineData("SetAsideWithinClassAfter", "1.00:00:00", "Scheduler:Scheduling:SetAsideWithinClassAfter must be from 0 (never) to 01:00:00; it is 1.00:00:00")]
    [InlineData("MaxHandBacks", "-1", "Scheduler:Scheduling:MaxHandBacks must be at least 0; it is -1")]
    [InlineData("MaxPreemptions", "-1", "Scheduler:Scheduling:MaxPreemptions must be at least 0; it is -1")]
    [InlineData("MaxDecodeDeferrals", "-2", "Scheduler:Scheduling:MaxDecodeDeferrals must be at least 0; it is -2")]
    [InlineData("ContendedPrefillTokens", "-256", "Scheduler:Scheduling:ContendedPrefillTokens must be at least 0; it is -256")]
    [InlineData("OverloadQueueLength", "-1", "Scheduler:Scheduling:OverloadQueueLength must be at least 0; it is -1")]
    [InlineData("IdempotencyKeysPerTenant", "0", "Scheduler:Scheduling:IdempotencyKeysPerTenant must be at least 1; it is 0")]
    public void Validate_ASettingNoSiloCanRunWith_FailsNamingIt(string setting, string value, string refusal)
    {
        var options = new PlacementOptions();
        var property = typeof(PlacementOptions).GetProperty(setting)!;
        property.SetValue(options, property.PropertyType == typeof(TimeSpan) ? TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : int.Parse(value, System.Globalization.CultureInfo.InvariantCulture));

        var result = new SchedulingBoundsOptionsValidator().Validate(null, options);

        Assert.Equal(refusal, Assert.Single(result.Failures!));
    }

    [Fact]
    public void Validate_ZeroWhereZeroMeansOff_Succeeds()
    {
        var options = new PlacementOptions
        {
            MaxHandBacks = 0, MaxPreemptions = 0, MaxDecodeDeferrals = 0, ContendedPrefillTokens = 0, OverloadQueueLength = 0,
            ContendedPrefillWindow = TimeSpan.Zero, SetAsideWithinClassAfter = TimeSpan.Zero,
        };

        Assert.True(new SchedulingBoundsOptionsValidator().Validate(null, options).Succeeded);
    }
}
