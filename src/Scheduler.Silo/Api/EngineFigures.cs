using Scheduler.Abstractions.Fleet;

namespace Scheduler.Silo.Api;

/// <summary>What an engine's last report says now. The engines measure output tokens per second over a sliding window
/// of <see cref="ThroughputWindow"/> and report it with each step; an idle engine steps no more, so its last figure
/// would read as a live rate for ever (an outside probe read "1,534 tok/s" on a replica idle for minutes).</summary>
internal static class EngineFigures
{
    /// <summary>The window the engines measure over (the worker's <c>RunningBatch.ThroughputWindow</c>).</summary>
    public static readonly TimeSpan ThroughputWindow = TimeSpan.FromSeconds(5);

    /// <summary>The reported rate, decayed for an idle engine: no token was made since its report, so the share of the
    /// window since then holds none, and after a whole window the rate is 0. A busy engine reports every 250 ms, and its
    /// figure is taken as it is.</summary>
    public static double OutputTokensPerSecond(EngineCapacity engine, DateTimeOffset now)
    {
        if (engine.RunningSequences > 0)
        {
            return engine.OutputTokensPerSecond;
        }

        var idleFor = now - engine.ReportedAt;
        return idleFor <= TimeSpan.Zero ? engine.OutputTokensPerSecond
            : engine.OutputTokensPerSecond * Math.Max(0, 1 - (idleFor / ThroughputWindow));
    }
}
