using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;
using Scheduler.Simulator.Engine;

namespace Scheduler.Simulator;

/// <summary>The three policy names a run uses, as configuration gives them to the placement grain, how often one
/// job may be preempted (<c>Scheduler:Scheduling:MaxPreemptions</c>; 0 turns preemption off) and how many consecutive
/// steps an over-share sequence's decode may wait for an under-share prompt's prefill
/// (<c>Scheduler:Scheduling:MaxDecodeDeferrals</c>; 0 turns it off), and the contended prefill cap of an over-share
/// sequence with its window (<c>Scheduler:Scheduling:ContendedPrefillTokens</c>, 0 turns it off, and
/// <c>ContendedPrefillWindow</c>), and how the engines' prefix caches differ from the placement's model of them
/// (<see cref="EngineCacheModel"/>; null: as the worker's simulated engine), and the price of a second of a job's wait
/// (<c>Scheduler:Scheduling:WaitCostUsdPerSecond</c>, read by cost-aware placement) and of a session's turn's
/// (<c>SessionWaitCostUsdPerSecond</c>), and the engines' prefill
/// micro-batch (<c>Worker:Accelerators:{g}:PrefillMicroBatchTokens</c>; 0: a step is one call, never ended early), and
/// how long the job next in fair order waits while its class's smaller jobs take the room it cannot use before a replica
/// is set aside for it (<c>Scheduler:Scheduling:SetAsideWithinClassAfter</c>; 0: never).</summary>
internal sealed record PolicyChoice(
    string Placement,
    string Fairness,
    string Batching,
    int MaxPreemptions = PolicyChoice.DefaultMaxPreemptions,
    int MaxDecodeDeferrals = PolicyChoice.DefaultMaxDecodeDeferrals,
    int ContendedPrefillTokens = Dispatcher.DefaultContendedPrefillTokens,
    int ContendedPrefillWindowMs = Dispatcher.DefaultContendedPrefillWindowMs,
    EngineCacheModel? EngineCache = null,
    double WaitCostUsdPerSecond = PlacementSettings.DefaultWaitCostUsdPerSecond,
    int PrefillMicroBatchTokens = StepPlan.DefaultMicroBatchTokens,
    double SessionWaitCostUsdPerSecond = PlacementSettings.DefaultSessionWaitCostUsdPerSecond,
    int SetAsideWithinClassAfterMs = Dispatcher.DefaultSetAsideWithinClassAfterMs)
{
    /// <summary>The placement grain's default.</summary>
    public const int DefaultMaxPreemptions = 2;

    /// <summary>The placement grain's default.</summary>
    public const int DefaultMaxDecodeDeferrals = 0;

    public string Label => $"{Placement} / {Batching} / {Fairness}";
}
