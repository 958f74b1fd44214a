using Microsoft.Extensions.Primitives;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

public sealed class GrpcTimeoutTests
{
    [Theory]
    [InlineData("200m", 200 * TimeSpan.TicksPerMillisecond)]
    [InlineData("2H", 2 * TimeSpan.TicksPerHour)]
    [InlineData("3M", 3 * TimeSpan.TicksPerMinute)]
    [InlineData("5S", 5 * TimeSpan.TicksPerSecond)]
    [InlineData("7u", 70)]
    [InlineData("1500n", 15)]
    [InlineData("99999999S", 99_999_999 * TimeSpan.TicksPerSecond)]
    public void TryParse_AValueAndUnit_IsItsTimeout(string header, long ticks)
    {
        Assert.True(GrpcTimeout.TryParse(header, out var timeout));
        Assert.Equal(TimeSpan.FromTicks(ticks), timeout);
    }

    [Theory]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("200")]
    [InlineData("200x")]
    [InlineData("200ms")]
    [InlineData("-5S")]
    [InlineData("+5S")]
    [InlineData(" 5S")]
    [InlineData("1.5S")]
    [InlineData("123456789S")] // more than 8 digits
    [InlineData("0S")]
    [InlineData("99n")] // under a tick: no deadline, as grpc-dotnet reads it
    public void TryParse_NotAValueAndUnit_IsNoTimeout(string header) =>
        Assert.False(GrpcTimeout.TryParse(header, out _));

    [Fact]
    public void TryParse_TheHeaderTwice_IsNoTimeout() =>
        Assert.False(GrpcTimeout.TryParse(new StringValues(["1S", "2S"]), out _));

    [Fact]
    public void TryParse_NoHeader_IsNoTimeout() =>
        Assert.False(GrpcTimeout.TryParse(StringValues.Empty, out _));

    [Theory]
    [InlineData(200 * TimeSpan.TicksPerMillisecond, "200000u")]
    [InlineData(15, "2u")] // rounded up
    [InlineData(0, "1u")] // run out: still a timeout, which ends the call at once
    [InlineData(-5 * TimeSpan.TicksPerSecond, "1u")]
    [InlineData(99_999_999 * TimeSpan.TicksPerMicrosecond, "99999999u")]
    [InlineData(100 * TimeSpan.TicksPerSecond, "100000m")]
    [InlineData(49 * TimeSpan.TicksPerDay, "4233600S")]
    public void Format_ATimeout_IsTheHeaderThatReadsBackAsAtLeastIt(long ticks, string header)
    {
        Assert.Equal(header, GrpcTimeout.Format(TimeSpan.FromTicks(ticks)));
        Assert.True(GrpcTimeout.TryParse(header, out var read));
        Assert.True(read >= TimeSpan.FromTicks(ticks));
    }
}
