namespace Scheduler.Abstractions.Fleet;

/// <summary>What became of a request to forget a worker node (<see cref="IWorkerNodeGrain.Forget"/>).</summary>
public enum ForgetNodeOutcome
{
    /// <summary>The node and what it registered are forgotten.</summary>
    Forgotten,

    /// <summary>Refused: the node is connected (registered, its lease alive). Nothing changed.</summary>
    Connected,

    /// <summary>No accelerator, replica or registration of this node is known.</summary>
    NotFound,
}

/// <summary>The outcome of forgetting a node, and the accelerators and replicas forgotten with it.</summary>
[GenerateSerializer, Immutable, Alias("scheduler.ForgetNodeResult")]
public sealed record ForgetNodeResult(
    [property: Id(0)] ForgetNodeOutcome Outcome,
    [property: Id(1)] string[] AcceleratorIds,
    [property: Id(2)] string[] ReplicaIds);
