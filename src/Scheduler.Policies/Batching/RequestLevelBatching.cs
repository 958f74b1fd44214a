namespace Scheduler.Policies.Batching;

/// <summary>Baseline, request-level (static) batching: a replica takes a new batch only once its current batch
/// has fully drained; the batch is whatever fits in that one admission round.</summary>
internal sealed class RequestLevelBatching : IBatchingPolicy
{
    public const string PolicyName = "request-level";

    public string Name => PolicyName;

    public bool JoinsRunningBatches => false;
}
