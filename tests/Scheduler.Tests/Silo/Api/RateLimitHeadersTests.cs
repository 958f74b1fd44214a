using Scheduler.Abstractions.Tenants;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

public sealed class RateLimitHeadersTests
{
    [Theory]
    [InlineData(0, "0s")]
    [InlineData(0.2, "1ms")]
    [InlineData(12, "12ms")]
    [InlineData(999.5, "1s")]
    [InlineData(1500, "1.5s")]
    [InlineData(59_999, "59.999s")]
    [InlineData(60_000, "1m0s")]
    [InlineData(61_250, "1m1.25s")]
    public void Duration_IsGosFormat_AsOpenAiWritesItsResets_RoundedUpToTheMillisecond(double ms, string expected) =>
        Assert.Equal(expected, RateLimitHeaders.Duration(TimeSpan.FromMilliseconds(ms)));

    [Fact]
    public void Of_NamesEachQuotaTheTenantHas_AndNoneItHasNot()
    {
        var result = new SubmitResult(null, SubmitRejection.None, null, Tokens: new QuotaHeadroom(1000, 985, TimeSpan.FromMilliseconds(900)));

        Assert.Equal(
            [
                KeyValuePair.Create("x-ratelimit-limit-tokens", "1000"),
                KeyValuePair.Create("x-ratelimit-remaining-tokens", "985"),
                KeyValuePair.Create("x-ratelimit-reset-tokens", "900ms"),
            ],
            RateLimitHeaders.Of(result));
    }
}
