using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies.Admission;

namespace Scheduler.Tests.Policies.Admission;

public sealed class UpstreamLimiterTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Reserve_WithoutLimits_NeverWaits()
    {
        var limiter = new UpstreamLimiter(0, 0, _time);

        Assert.All(Enumerable.Range(0, 1000), _ => Assert.Equal(TimeSpan.Zero, limiter.Reserve(100_000)));
        Assert.Null(limiter.MaxTokensPerRequest);
    }

    [Fact]
    public void Reserve_RequestsPerMinute_QueuesTheRequestsBeyondTheMinutesWorth()
    {
        var limiter = new UpstreamLimiter(requestsPerMinute: 30, tokensPerMinute: 0, _time);

        Assert.All(Enumerable.Range(0, 30), _ => Assert.Equal(TimeSpan.Zero, limiter.Reserve(1)));

        // 30 a minute refill one every 2 s; each caller beyond the burst waits behind the ones before it.
        Assert.Equal(TimeSpan.FromSeconds(2), limiter.Reserve(1));
        Assert.Equal(TimeSpan.FromSeconds(4), limiter.Reserve(1));
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(TimeSpan.FromSeconds(2), limiter.Reserve(1));
    }

    [Fact]
    public void Reserve_TokensPerMinute_WaitsUntilTheTokensRefill_AndARefundShortensIt()
    {
        var limiter = new UpstreamLimiter(requestsPerMinute: 0, tokensPerMinute: 6_000, _time);

        Assert.Equal(TimeSpan.Zero, limiter.Reserve(5_000));
        Assert.Equal(TimeSpan.FromSeconds(10), limiter.Reserve(2_000));
        Assert.Equal(6_000, limiter.MaxTokensPerRequest);

        // The first request used 1,000 of its 5,000: the rest comes back, and the debt is paid.
        limiter.Refund(4_000, request: false);
        Assert.Equal(TimeSpan.Zero, limiter.Reserve(1_000));
        Assert.Equal(TimeSpan.FromSeconds(10), limiter.Reserve(3_000));
    }

    [Fact]
    public void Reserve_WaitsForTheStricterOfBothLimits()
    {
        var limiter = new UpstreamLimiter(requestsPerMinute: 60, tokensPerMinute: 600, _time);

        Assert.Equal(TimeSpan.Zero, limiter.Reserve(600));
        Assert.Equal(TimeSpan.FromSeconds(30), limiter.Reserve(300));
    }

    [Fact]
    public void Refund_OfAnUnsentRequest_GivesTheRequestBack_ButNeverBeyondAMinutesWorth()
    {
        var limiter = new UpstreamLimiter(requestsPerMinute: 1, tokensPerMinute: 0, _time);

        Assert.Equal(TimeSpan.Zero, limiter.Reserve(1));
        limiter.Refund(0, request: true);
        Assert.Equal(TimeSpan.Zero, limiter.Reserve(1));

        limiter.Refund(0, request: true);
        limiter.Refund(0, request: true);
        Assert.Equal(TimeSpan.Zero, limiter.Reserve(1));
        Assert.Equal(TimeSpan.FromMinutes(1), limiter.Reserve(1));
    }

    [Fact]
    public void HoldUntil_DelaysEveryRequest_UntilTheHoldPasses()
    {
        var limiter = new UpstreamLimiter(0, 0, _time);

        limiter.HoldUntil(_time.GetUtcNow().AddSeconds(5));
        limiter.HoldUntil(_time.GetUtcNow().AddSeconds(1));

        Assert.Equal(TimeSpan.FromSeconds(5), limiter.HeldFor());
        Assert.Equal(TimeSpan.FromSeconds(5), limiter.Reserve(1));
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.Zero, limiter.HeldFor());
        Assert.Equal(TimeSpan.Zero, limiter.Reserve(1));
    }

    [Fact]
    public void WaitFor_TellsTheWaitAReservationWouldHave_WithoutReserving()
    {
        var limiter = new UpstreamLimiter(requestsPerMinute: 60, tokensPerMinute: 6_000, _time);
        Assert.Equal(TimeSpan.Zero, limiter.WaitFor(6_000));
        Assert.Equal(TimeSpan.Zero, limiter.Reserve(5_000));

        Assert.Equal(TimeSpan.FromSeconds(10), limiter.WaitFor(2_000));
        Assert.Equal(TimeSpan.FromSeconds(10), limiter.WaitFor(2_000));
        Assert.Equal(TimeSpan.FromSeconds(10), limiter.Reserve(2_000));

        // What an operator is shown: the limits, and 2 requests and 7,000 tokens taken from a minute's worth.
        Assert.Equal((60, 6_000), (limiter.RequestsPerMinute, limiter.TokensPerMinute));
        Assert.Equal((58.0, -1_000.0), limiter.Available());
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal((60.0, 0.0), limiter.Available());
        limiter.HoldUntil(_time.GetUtcNow().AddSeconds(30));
        Assert.Equal(TimeSpan.FromSeconds(30), limiter.WaitFor(1));
    }
}
