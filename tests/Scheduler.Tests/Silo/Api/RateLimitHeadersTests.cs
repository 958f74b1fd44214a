using Scheduler.Abstractions.Tenants;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

public sealed class RateLimitHeadersTests
{
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
