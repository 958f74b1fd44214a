namespace Scheduler.Abstractions.Placement;

/// <summary>
/// What a model's placement wants of each accelerator pool it has replicas in, and the demand it sized them for:
/// the capacity signal the wanted-replicas gauge and <c>AdminService.GetCapacity</c> report for an autoscaler.
/// </summary>
/// <param name="WindowSeconds">The window the arrival rates and the attainment are measured over.</param>
/// <param name="PromptTokensPerSecond">Prompt tokens arriving per second over the window.</param>
/// <param name="OutputTokensPerSecond">Output tokens (max_tokens) requested per second over the window.</param>
/// <param name="QueuedPromptTokens">Prompt tokens of the jobs queued now.</param>
/// <param name="QueuedOutputTokens">Output tokens of the jobs queued now.</param>
/// <param name="Attainment">Share of the window's first tokens that met their objective; NaN when none came.</param>
/// <param name="Pools">One entry per worker pool the model has replicas in, registered order.</param>
/// <param name="PeakPromptTokensPerSecond">The highest burst prompt rate of the peak lookback (at least the window's mean):
/// what the pools' prefill is sized for.</param>
/// <param name="PeakLookbackSeconds">How far back a burst still counts.</param>
[GenerateSerializer, Alias("scheduler.CapacitySnapshot")]
public sealed record CapacitySnapshot(
    [property: Id(0)] double WindowSeconds,
    [property: Id(1)] double PromptTokensPerSecond,
    [property: Id(2)] double OutputTokensPerSecond,
    [property: Id(3)] long QueuedPromptTokens,
    [property: Id(4)] long QueuedOutputTokens,
    [property: Id(5)] double Attainment,
    [property: Id(6)] PoolCapacity[] Pools,
    [property: Id(7)] double PeakPromptTokensPerSecond,
    [property: Id(8)] double PeakLookbackSeconds);

/// <summary>One worker pool of a model: what it has and what the capacity policy wants.</summary>
/// <param name="Pool">The worker pool (the node group an autoscaler grows: the name its workers gave, else their
/// accelerators' product).</param>
/// <param name="Replicas">Replicas taking work now (schedulable).</param>
/// <param name="WantedReplicas">Replicas the policy wants; a metered pool keeps what it has.</param>
/// <param name="MaxReplicas">The most the policy may ask of the pool.</param>
/// <param name="BusyReplicas">Replicas' worth of busy time the demand assigned here needs, before headroom.</param>
/// <param name="ColdStartSeconds">Time a new replica takes to serve: the queue is spread over it.</param>
/// <param name="Metered">True for capacity paid per token: not provisioned, left out of the sizing.</param>
/// <param name="TargetUtilisation">The busy share each replica was sized for (lower while attainment is below objective).</param>
/// <param name="Product">The accelerator product of the pool's replicas.</param>
[GenerateSerializer, Alias("scheduler.PoolCapacity")]
public sealed record PoolCapacity(
    [property: Id(0)] string Pool,
    [property: Id(1)] int Replicas,
    [property: Id(2)] int WantedReplicas,
    [property: Id(3)] int MaxReplicas,
    [property: Id(4)] double BusyReplicas,
    [property: Id(5)] double ColdStartSeconds,
    [property: Id(6)] bool Metered,
    [property: Id(7)] double TargetUtilisation,
    [property: Id(8)] string Product = "");
