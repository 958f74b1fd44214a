using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies.Capacity;

namespace Scheduler.Tests.Policies.Capacity;

public sealed class DemandWindowTests
{
    private const double Tolerance = 1e-9;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Signal_MeanOverTheWindow_PeakOverTheBurst()
    {
        var demand = new DemandWindow(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(2));

        // 1,000 prompt tokens a second for 10 s, then 30,000 within one second.
        for (var i = 0; i < 10; i++)
        {
            demand.Arrived(_time.GetUtcNow(), 1_000, 10);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        demand.Arrived(_time.GetUtcNow(), 10_000, 10);
        demand.Arrived(_time.GetUtcNow(), 20_000, 10);
        var signal = demand.Signal(_time.GetUtcNow(), 500, 50, 1);

        Assert.Equal(40_000 / 60.0, signal.PromptTokensPerSecond, Tolerance);
        Assert.Equal(120 / 60.0, signal.OutputTokensPerSecond, Tolerance);
        // The busiest 2 s: the burst's second and the one before it, (30,000 + 1,000) / 2.
        Assert.Equal(15_500, signal.PeakPromptTokensPerSecond, Tolerance);
        Assert.Equal((500L, 50L), (signal.QueuedPromptTokens, signal.QueuedOutputTokens));
    }

    [Fact]
    public void Signal_ABurstKeepsSizingThroughTheLookback_ThenIsForgotten()
    {
        var demand = new DemandWindow(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(1));
        demand.Arrived(_time.GetUtcNow(), 60_000, 0);

        // Past the window the mean has forgotten it; within the lookback the peak has not.
        _time.Advance(TimeSpan.FromMinutes(2));
        var held = demand.Signal(_time.GetUtcNow(), 0, 0, 0);
        Assert.Equal((0.0, 60_000.0), (held.PromptTokensPerSecond, held.PeakPromptTokensPerSecond));
        Assert.True(held.Idle);

        _time.Advance(TimeSpan.FromMinutes(3) + TimeSpan.FromSeconds(1));
        Assert.Equal(0.0, demand.Signal(_time.GetUtcNow(), 0, 0, 0).PeakPromptTokensPerSecond);
    }

    [Fact]
    public void Signal_PeakIsAtLeastTheMean_AndAttainmentCountsTheWindowsFirstTokens()
    {
        // A burst span longer than the window cannot read below the window's mean.
        var demand = new DemandWindow(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30));
        demand.Arrived(_time.GetUtcNow(), 1_000, 0);
        demand.FirstToken(_time.GetUtcNow(), metObjective: true);
        demand.FirstToken(_time.GetUtcNow(), metObjective: false);
        _time.Advance(TimeSpan.FromSeconds(5));
        demand.FirstToken(_time.GetUtcNow(), metObjective: true);

        var signal = demand.Signal(_time.GetUtcNow(), 0, 0, 0);

        Assert.Equal(100, signal.PromptTokensPerSecond, Tolerance);
        Assert.Equal(100, signal.PeakPromptTokensPerSecond, Tolerance);
        Assert.Equal(2 / 3.0, signal.Attainment, Tolerance);

        _time.Advance(TimeSpan.FromSeconds(7));
        Assert.Equal(1.0, demand.Signal(_time.GetUtcNow(), 0, 0, 0).Attainment, Tolerance);
    }
}
