using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies.Admission;

namespace Scheduler.Tests.Policies.Admission;

public sealed class TenantRateLimitsTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void TryAdmit_NoQuotas_AdmitsEverything()
    {
        var limits = new TenantRateLimits(_time);
        limits.Configure(0, 0);

        Assert.All(Enumerable.Range(0, 10_000), _ => Assert.True(limits.TryAdmit(1_000_000).IsAdmitted));
    }

    [Theory]
    [InlineData(0, 30, 512, 512)]
    [InlineData(100, 30, 512, 70)]
    [InlineData(100, 30, 50, 50)]
    [InlineData(100, 99, 512, 1)]
    [InlineData(100, 100, 512, 1)]
    [InlineData(100, 400, 512, 1)]
    public void FitOutput_LowersADefaultToWhatAWholeMinutesTokensLeaveAfterThePrompt_AtLeastOne(long tokensPerMinute, int prompt, int maxTokens, int expected)
    {
        var limits = new TenantRateLimits(_time);
        limits.Configure(0, tokensPerMinute);

        Assert.Equal(expected, limits.FitOutput(prompt, maxTokens));
    }

    [Fact]
    public void FitOutput_IsOfTheWholeQuota_NotOfWhatIsLeftOfItNow()
    {
        var limits = new TenantRateLimits(_time);
        limits.Configure(0, 100);
        Assert.True(limits.TryAdmit(90).IsAdmitted);

        Assert.Equal(70, limits.FitOutput(30, 512));
    }

    [Fact]
    public void TryAdmit_RequestsPerMinute_RefusesPastTheBurst_WithRetryHint_ThenAdmitsOnceRefilled()
    {
        var limits = new TenantRateLimits(_time);
        limits.Configure(requestsPerMinute: 3, tokensPerMinute: 0);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(limits.TryAdmit(100).IsAdmitted);
        }

        var refused = limits.TryAdmit(100);

        Assert.False(refused.IsAdmitted);
        Assert.Equal("requests_per_minute", refused.Quota);
        Assert.Equal(TimeSpan.FromSeconds(20), refused.RetryAfter);

        _time.Advance(TimeSpan.FromSeconds(19));
        Assert.False(limits.TryAdmit(100).IsAdmitted);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limits.TryAdmit(100).IsAdmitted);
        Assert.False(limits.TryAdmit(100).IsAdmitted);
    }

    [Fact]
    public void TryAdmit_CallersRefusedTogether_AreToldToComeBackOneAfterAnother_AndEachFindsItsRoom()
    {
        // 30 a minute: one request refills every 2 s. Twenty callers refused at once were all told "2 s", so nineteen
        // were refused again each time (an outside probe: 230 calls for 20 jobs).
        var limits = new TenantRateLimits(_time);
        limits.Configure(requestsPerMinute: 30, tokensPerMinute: 0);
        for (var i = 0; i < 30; i++)
        {
            Assert.True(limits.TryAdmit(10).IsAdmitted);
        }

        _time.Advance(TimeSpan.FromTicks(1));
        var hints = Enumerable.Range(0, 5).Select(_ => limits.TryAdmit(10).RetryAfter!.Value).ToList();

        Assert.Equal([2.0, 4.0, 6.0, 8.0, 10.0], hints.Select(h => Math.Round(h.TotalSeconds, 2)));

        // Each comes back at its time and is admitted.
        var start = _time.GetUtcNow();
        foreach (var hint in hints)
        {
            _time.Advance(start + hint - _time.GetUtcNow());
            Assert.True(limits.TryAdmit(10).IsAdmitted, $"refused at +{hint}");
        }
    }

    [Fact]
    public void TryAdmit_RefusalsFasterThanTheHints_AreNeverToldToWaitPastTheBucketsBeingWholeAgain()
    {
        // 2 a minute, both used: one client retrying at once (or an OpenAI SDK, which ignores a hint over a minute)
        // was told 30, 60, 90, 120, 150 and 180 s, and every caller after it later still, though the bucket is whole again
        // in 60 s (the x-ratelimit-reset-requests it is shown).
        var limits = new TenantRateLimits(_time);
        limits.Configure(requestsPerMinute: 2, tokensPerMinute: 0);
        Assert.True(limits.TryAdmit(10).IsAdmitted);
        Assert.True(limits.TryAdmit(10).IsAdmitted);

        _time.Advance(TimeSpan.FromMilliseconds(100));
        var hints = Enumerable.Range(0, 6).Select(_ => limits.TryAdmit(10).RetryAfter!.Value.TotalSeconds).ToList();
        var reset = limits.Requests!.Value.Reset.TotalSeconds;

        // The first two still come back one after another, each to its own refill.
        Assert.Equal([29.9, 59.9], hints.Take(2).Select(h => Math.Round(h, 1)));
        Assert.All(hints, h => Assert.InRange(h, 0, reset));

        // And a caller coming back at the last hint finds room.
        _time.Advance(TimeSpan.FromSeconds(hints[^1]));
        Assert.True(limits.TryAdmit(10).IsAdmitted);
    }

    [Fact]
    public void TryAdmit_TokensPerMinute_RefusalCostsNoRequest()
    {
        var limits = new TenantRateLimits(_time);
        limits.Configure(requestsPerMinute: 2, tokensPerMinute: 600);
        Assert.True(limits.TryAdmit(500).IsAdmitted);

        var refused = limits.TryAdmit(200);

        Assert.False(refused.IsAdmitted);
        Assert.Equal("tokens_per_minute", refused.Quota);
        Assert.Equal(TimeSpan.FromSeconds(10), refused.RetryAfter);

        // The refused job took nothing from the request bucket: one request is left, and 100 tokens fit.
        Assert.True(limits.TryAdmit(100).IsAdmitted);
        Assert.Equal("requests_per_minute", limits.TryAdmit(1).Quota);
    }

    [Fact]
    public void Refund_GivesBackWhatAnAdmittedJobTook_NeverPastAMinutesQuota()
    {
        var limits = new TenantRateLimits(_time);
        limits.Configure(requestsPerMinute: 1, tokensPerMinute: 1_000);
        Assert.True(limits.TryAdmit(800).IsAdmitted);
        Assert.False(limits.TryAdmit(100).IsAdmitted);

        // The job was not accepted after all: the next one is admitted at once, as if it had never come.
        limits.Refund(800);
        Assert.True(limits.TryAdmit(800).IsAdmitted);

        // A refund beyond what was taken fills the buckets, no more.
        limits.Refund(800);
        limits.Refund(800);
        Assert.True(limits.TryAdmit(1_000).IsAdmitted);
        Assert.False(limits.TryAdmit(1).IsAdmitted);
    }

    [Fact]
    public void TryAdmit_JobLargerThanAMinutesTokens_IsRefusedWithoutRetryHint()
    {
        var limits = new TenantRateLimits(_time);
        limits.Configure(requestsPerMinute: 0, tokensPerMinute: 1_000);

        var refused = limits.TryAdmit(1_001);

        Assert.False(refused.IsAdmitted);
        Assert.Equal("tokens_per_minute", refused.Quota);
        Assert.Null(refused.RetryAfter);
        Assert.Contains("1001", refused.Message, StringComparison.Ordinal);
        Assert.True(limits.TryAdmit(1_000).IsAdmitted);
    }

    [Fact]
    public void Configure_UnchangedQuotaKeepsWhatWasUsed_ChangedQuotaStartsFull()
    {
        var limits = new TenantRateLimits(_time);
        limits.Configure(requestsPerMinute: 1, tokensPerMinute: 0);
        Assert.True(limits.TryAdmit(1).IsAdmitted);

        limits.Configure(requestsPerMinute: 1, tokensPerMinute: 0);
        Assert.False(limits.TryAdmit(1).IsAdmitted);

        limits.Configure(requestsPerMinute: 2, tokensPerMinute: 0);
        Assert.True(limits.TryAdmit(1).IsAdmitted);
    }
}
