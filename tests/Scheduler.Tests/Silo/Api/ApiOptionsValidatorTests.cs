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
}
