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

    /// <summary>The default price of a second of a session's turn's wait, its own and its next turn's: $0.3. It decides only
    /// where it costs the fleet nothing it needs (<see cref="SessionWaitCostUsdPerSecond"/>); chosen over $0.03, 0.1, 0.2,
    /// 0.5 and 1 on the simulator's prefix workloads, ten seeds (docs/benchmarks.md, issue 14 "Tenth round").</summary>
    public const double DefaultSessionWaitCostUsdPerSecond = 0.3;

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
    /// but only among the replicas where that costs the fleet nothing it needs — no prefill pending ahead of the job, as
    /// much of its prompt cached as on any candidate, and room in the KV cache for the contexts of the sessions recently
    /// placed there with the job's (<see cref="ReplicaView.LiveSessionTokens"/>); where none meets the job's objective,
    /// it is placed as any other job. Priced wherever it had room, it cost loaded fleets' sessions their hit rate
    /// (docs/benchmarks.md, issue 14 "Ninth round"); so restricted, it shortens their p90 too ("Tenth round"). 0 prices
    /// sessions as every other job. From 0 to <see cref="MaxWaitCostUsdPerSecond"/>; <see
    /// cref="DefaultSessionWaitCostUsdPerSecond"/> by default.</summary>
    public double SessionWaitCostUsdPerSecond
    {
        get;
        init => field = TakesWaitCost(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(SessionWaitCostUsdPerSecond), value, $"must be from 0 to {MaxWaitCostUsdPerSecond} (US dollars per second of a session's turn's wait)");
    } = DefaultSessionWaitCostUsdPerSecond;
}
