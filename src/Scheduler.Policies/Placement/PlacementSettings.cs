namespace Scheduler.Policies.Placement;

/// <summary>What configuration sets for a placement policy besides its name (the placement grain's
/// <c>Scheduler:Scheduling</c> section, the simulator's options). A policy reads only what concerns it.</summary>
public sealed record PlacementSettings
{
    /// <summary>The default price of a second of a job's wait for its first token: $0.001, about what a second of an
    /// A100 costs in the profiles ($5.12 an hour is $0.0014 a second; an H100, $12.29 an hour, $0.0034). Chosen over 0,
    /// 0.0003, 0.003 and 0.01 on the Azure traces and the prefix workloads (docs/benchmarks.md, "The wait priced").</summary>
    public const double DefaultWaitCostUsdPerSecond = 0.001;

    /// <summary>The most a second of waiting may be priced at: $1, about 300 times an H100's second. Past a few cents the
    /// cost-aware policy already places by first token alone.</summary>
    public const double MaxWaitCostUsdPerSecond = 1;

    public static PlacementSettings Default { get; } = new();

    /// <summary>Whether <paramref name="usdPerSecond"/> is a price of waiting the settings take: from 0 to
    /// <see cref="MaxWaitCostUsdPerSecond"/> (not a number is not).</summary>
    public static bool TakesWaitCost(double usdPerSecond) => usdPerSecond is >= 0 and <= MaxWaitCostUsdPerSecond;

    /// <summary>What a second of a job's wait for its first token costs: the cost-aware policy adds it, times the
    /// predicted wait, to each replica's predicted cost. 0 prices only the accelerators' time. From 0 to
    /// <see cref="MaxWaitCostUsdPerSecond"/>.</summary>
    public double WaitCostUsdPerSecond
    {
        get;
        init => field = TakesWaitCost(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(WaitCostUsdPerSecond), value, $"must be from 0 to {MaxWaitCostUsdPerSecond} (US dollars per second of waiting)");
    } = DefaultWaitCostUsdPerSecond;

    /// <summary>What a second of a session's turn's wait for its first token costs, its own and its next turn's on the
    /// replica it is placed on (sessions stay where their context is): the cost-aware policy prices a session's job's wait
    /// at this (or <see cref="WaitCostUsdPerSecond"/>, the higher) and adds its next turn's predicted wait there at this,
    /// and a session's job meets its objective only on a replica whose recently placed sessions' contexts, its own with
    /// them, fit in its KV cache (<see cref="ReplicaView.LiveSessionTokens"/>). 0 (the default) leaves sessions priced
    /// as every other job: the measured gain at light load (multi-turn chats on fast replicas) costs loaded fleets'
    /// sessions (docs/benchmarks.md, issue 14 "Ninth round"). From 0 to <see cref="MaxWaitCostUsdPerSecond"/>.</summary>
    public double SessionWaitCostUsdPerSecond
    {
        get;
        init => field = TakesWaitCost(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(SessionWaitCostUsdPerSecond), value, $"must be from 0 to {MaxWaitCostUsdPerSecond} (US dollars per second of a session's turn's wait)");
    }
}
