using Scheduler.Abstractions.Fleet;
using Scheduler.Silo.Api;

namespace Scheduler.Tests.Silo.Api;

/// <summary>An idle engine's last tokens-per-second figure decays to 0 over the engines' measuring window (an outside
/// probe read an idle replica's last 1,534 tok/s for minutes); a busy engine's is taken as reported.</summary>
public sealed class EngineFiguresTests
{
    private static readonly DateTimeOffset ReportedAt = new(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);

    private static EngineCapacity Report(int running, double tokensPerSecond) => new(running, 0, 4, 0, 0, tokensPerSecond, ReportedAt);

    [Theory]
    [InlineData(0, 1500.0)]
    [InlineData(1, 1200.0)]
    [InlineData(2.5, 750.0)]
    [InlineData(5, 0.0)]
    [InlineData(600, 0.0)]
    public void Idle_DecaysOverTheWindowSinceItsLastReport(double secondsIdle, double expected) =>
        Assert.Equal(expected, EngineFigures.OutputTokensPerSecond(Report(0, 1500), ReportedAt.AddSeconds(secondsIdle)), 6);

    [Fact]
    public void Busy_IsTakenAsReported() =>
        Assert.Equal(1500, EngineFigures.OutputTokensPerSecond(Report(3, 1500), ReportedAt.AddSeconds(2)));
}
