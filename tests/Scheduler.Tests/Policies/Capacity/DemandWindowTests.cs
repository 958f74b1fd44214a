using Microsoft.Extensions.Time.Testing;
using Scheduler.Policies.Capacity;

namespace Scheduler.Tests.Policies.Capacity;

public sealed class DemandWindowTests
{
    private const double Tolerance = 1e-9;
    private static readonly TimeSpan s_second = TimeSpan.FromSeconds(1);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Signal_MeanOverTheWindow_BurstDrainedWithinItsObjective()
    {
        var demand = new DemandWindow(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));

        // 1,000 prompt tokens a second for 10 s, then 30,000 at once, due within 1 s.
        for (var i = 0; i < 10; i++)
        {
            demand.Arrived(_time.GetUtcNow(), 1_000, 10, s_second);
            _time.Advance(s_second);
        }

        demand.Arrived(_time.GetUtcNow(), 10_000, 10, s_second);
        demand.Arrived(_time.GetUtcNow(), 20_000, 10, s_second);
        var signal = demand.Signal(_time.GetUtcNow(), 500, 50, 1);

        Assert.Equal(40_000 / 60.0, signal.PromptTokensPerSecond, Tolerance);
        Assert.Equal(120 / 60.0, signal.OutputTokensPerSecond, Tolerance);
        // The earlier prompts were prefilled long before; the burst's 30,000 tokens must be within 1 s: 30,000 tok/s
        // (found by bisection to 0.1%), not the 15,500 a mean over 2 s reads, nor all at once.
        Assert.InRange(signal.PeakPromptTokensPerSecond, 30_000, 30_000 * 1.001);
        Assert.Equal((500L, 50L), (signal.QueuedPromptTokens, signal.QueuedOutputTokens));
    }

    [Fact]
    public void Signal_ALongerObjective_LetsTheBurstQueue()
    {
        // The same 30,000 tokens due within 3 s need a third of the rate; split in two a second apart, each due within
        // 1 s, half the rate: each half is prefilled before the next arrives.
        var patient = new DemandWindow(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        patient.Arrived(_time.GetUtcNow(), 30_000, 0, TimeSpan.FromSeconds(3));
        Assert.InRange(patient.Signal(_time.GetUtcNow(), 0, 0, 0).PeakPromptTokensPerSecond, 10_000, 10_000 * 1.001);

        var spread = new DemandWindow(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        spread.Arrived(_time.GetUtcNow(), 15_000, 0, s_second);
        spread.Arrived(_time.GetUtcNow() + s_second, 15_000, 0, s_second);
        Assert.InRange(spread.Signal(_time.GetUtcNow() + s_second, 0, 0, 0).PeakPromptTokensPerSecond, 15_000, 15_000 * 1.001);
    }

    [Fact]
    public void Signal_PromptsWithoutAnObjective_DelayTheOthersButBoundNothing()
    {
        // 20,000 tokens with no objective just ahead of 10,000 due within 1 s: the later ones wait for the earlier, so
        // 30,000 tok/s; alone, the 20,000 ask for nothing beyond the window's mean.
        var mixed = new DemandWindow(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        mixed.Arrived(_time.GetUtcNow(), 20_000, 0, TimeSpan.Zero);
        mixed.Arrived(_time.GetUtcNow(), 10_000, 0, s_second);
        Assert.InRange(mixed.Signal(_time.GetUtcNow(), 0, 0, 0).PeakPromptTokensPerSecond, 30_000, 30_000 * 1.001);

        var unbounded = new DemandWindow(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        unbounded.Arrived(_time.GetUtcNow(), 20_000, 0, TimeSpan.Zero);
        var signal = unbounded.Signal(_time.GetUtcNow(), 0, 0, 0);
        Assert.Equal(signal.PromptTokensPerSecond, signal.PeakPromptTokensPerSecond, Tolerance);
    }

    [Fact]
    public void Signal_ABurstKeepsSizingThroughTheLookback_ThenIsForgotten()
    {
        var demand = new DemandWindow(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        demand.Arrived(_time.GetUtcNow(), 60_000, 0, s_second);

        // Past the window the mean has forgotten it; within the lookback the burst has not.
        _time.Advance(TimeSpan.FromMinutes(2));
        var held = demand.Signal(_time.GetUtcNow(), 0, 0, 0);
        Assert.Equal(0.0, held.PromptTokensPerSecond);
        Assert.InRange(held.PeakPromptTokensPerSecond, 60_000, 60_000 * 1.001);
        Assert.True(held.Idle);

        _time.Advance(TimeSpan.FromMinutes(3) + s_second);
        Assert.Equal(0.0, demand.Signal(_time.GetUtcNow(), 0, 0, 0).PeakPromptTokensPerSecond);
    }

    [Fact]
    public void Signal_BurstIsAtLeastTheMean_AndAttainmentCountsTheWindowsFirstTokens()
    {
        // A lookback shorter than the window cannot read below the window's mean.
        var demand = new DemandWindow(TimeSpan.FromSeconds(10), TimeSpan.Zero);
        demand.Arrived(_time.GetUtcNow(), 1_000, 0, s_second);
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
