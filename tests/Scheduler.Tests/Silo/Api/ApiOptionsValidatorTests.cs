using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

public sealed class ApiOptionsValidatorTests
{
    [Fact]
    public void Validate_Defaults_Succeed() => Assert.True(new ApiOptionsValidator().Validate(null, new ApiOptions()).Succeeded);

    [Fact]
    public void Validate_ZeroesThatTurnThingsOff_Succeed() =>
        Assert.True(new ApiOptionsValidator().Validate(null, new ApiOptions { AuthFailureLimit = 0, ApiKeyCacheSeconds = 0, OpenAiStreamKeepAliveSeconds = 0 }).Succeeded);

    [Theory]
    [InlineData(nameof(ApiOptions.OpenAiStreamKeepAliveSeconds))]
    [InlineData(nameof(ApiOptions.ApiKeyCacheSeconds))]
    [InlineData(nameof(ApiOptions.AuthFailureLimit))]
    [InlineData(nameof(ApiOptions.AuthFailureWindowSeconds))]
    [InlineData(nameof(ApiOptions.AdminKeyFileRefreshSeconds))]
    public void Validate_ANegativeCountOrInterval_FailsNamingTheSetting(string setting)
    {
        var options = new ApiOptions();
        typeof(ApiOptions).GetProperty(setting)!.SetValue(options, -1);

        var result = new ApiOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Equal($"Scheduler:{setting} must be 0 or more", result.FailureMessage[..(setting.Length + 28)]);
        Assert.EndsWith("it is -1", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(ApiOptions.MaxTokenStreamIntervalMilliseconds)]
    public void Validate_ATokenIntervalFromZeroToASecond_Succeeds(int milliseconds) =>
        Assert.True(new ApiOptionsValidator().Validate(null, new ApiOptions { TokenStreamIntervalMilliseconds = milliseconds }).Succeeded);

    [Theory]
    [InlineData(-1)]
    [InlineData(ApiOptions.MaxTokenStreamIntervalMilliseconds + 1)]
    public void Validate_ATokenIntervalBelowZeroOrOverASecond_FailsNamingIt(int milliseconds)
    {
        var result = new ApiOptionsValidator().Validate(null, new ApiOptions { TokenStreamIntervalMilliseconds = milliseconds });

        Assert.True(result.Failed);
        Assert.Equal(
            $"Scheduler:TokenStreamIntervalMilliseconds must be from 0 (every step's tokens as they come) to 1000 milliseconds; it is {milliseconds}",
            result.FailureMessage);
    }

    [Fact]
    public void Validate_AMessageLimitBelowAKilobyte_FailsNamingIt()
    {
        var result = new ApiOptionsValidator().Validate(null, new ApiOptions { MaxReceiveMessageBytes = 100 });

        Assert.True(result.Failed);
        Assert.Equal("Scheduler:MaxReceiveMessageBytes must be at least 1024 bytes; it is 100", result.FailureMessage);
    }

    [Fact]
    public void Validate_ABodyBudgetBelowTheLargestBody_FailsNamingBoth()
    {
        var result = new ApiOptionsValidator().Validate(null, new ApiOptions { MaxReceiveMessageBytes = 4096, MaxRequestBodyBytesInFlight = 4095 });

        Assert.True(result.Failed);
        Assert.Equal(
            "Scheduler:MaxRequestBodyBytesInFlight must be at least Scheduler:MaxReceiveMessageBytes (4096 bytes), so the largest request body can be read; it is 4095",
            result.FailureMessage);
    }

    [Fact]
    public void Validate_ABodyBudgetOfOneLargestBody_Succeeds() =>
        Assert.True(new ApiOptionsValidator().Validate(null, new ApiOptions { MaxReceiveMessageBytes = 4096, MaxRequestBodyBytesInFlight = 4096 }).Succeeded);

    [Theory]
    [InlineData(4095)]
    [InlineData(10_001)]
    public void Validate_ATenantShareBelowTheLargestBodyOrAboveTheBudget_FailsNamingAllThree(long perTenant)
    {
        var result = new ApiOptionsValidator().Validate(
            null, new ApiOptions { MaxReceiveMessageBytes = 4096, MaxRequestBodyBytesInFlight = 10_000, MaxRequestBodyBytesPerTenant = perTenant });

        Assert.True(result.Failed);
        Assert.Equal(
            "Scheduler:MaxRequestBodyBytesPerTenant must be at least Scheduler:MaxReceiveMessageBytes (4096 bytes), so a tenant's largest request "
            + $"body can be read, and at most Scheduler:MaxRequestBodyBytesInFlight (10000 bytes); it is {perTenant}",
            result.FailureMessage);
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(10_000)]
    public void Validate_ATenantShareFromTheLargestBodyToTheBudget_Succeeds(long perTenant) =>
        Assert.True(new ApiOptionsValidator().Validate(
            null, new ApiOptions { MaxReceiveMessageBytes = 4096, MaxRequestBodyBytesInFlight = 10_000, MaxRequestBodyBytesPerTenant = perTenant }).Succeeded);

    [Theory]
    [InlineData(8 << 20, 64L << 20, 32L << 20)] // the defaults: half the budget
    [InlineData(4096, 10_000, 5_000)]
    [InlineData(4096, 6_000, 4_096)] // half is below the largest body, which a tenant can always send
    public void RequestBodyBytesPerTenant_Unset_IsHalfTheBudget_AtLeastTheLargestBody(int largest, long budget, long share) =>
        Assert.Equal(share, new ApiOptions { MaxReceiveMessageBytes = largest, MaxRequestBodyBytesInFlight = budget }.RequestBodyBytesPerTenant());
}
