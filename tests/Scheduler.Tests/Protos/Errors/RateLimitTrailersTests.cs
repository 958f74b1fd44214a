using Scheduler.Protos.Errors;
using Scheduler.Protos.V1;

namespace Scheduler.Tests.Protos.Errors;

public sealed class RateLimitTrailersTests
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
        Assert.Equal(expected, RateLimitTrailers.Duration(TimeSpan.FromMilliseconds(ms)));

    [Fact]
    public void Of_AStreamJobsRefusal_SpellsItsRateLimitsAsSubmitJobsTrailers_AndNoneItHasNot()
    {
        var refused = new SubmissionRefused { Requests = new RateLimit { Limit = 30, Remaining = 0, ResetMs = 1_500 } };

        Assert.Equal(
            [
                KeyValuePair.Create("x-ratelimit-limit-requests", "30"),
                KeyValuePair.Create("x-ratelimit-remaining-requests", "0"),
                KeyValuePair.Create("x-ratelimit-reset-requests", "1.5s"),
            ],
            RateLimitTrailers.Of(refused));
        Assert.Empty(RateLimitTrailers.Of(new SubmissionRefused()));
    }
}
