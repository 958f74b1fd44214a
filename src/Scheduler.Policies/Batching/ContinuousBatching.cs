namespace Scheduler.Policies.Batching;

/// <summary>Iteration-level batching (Orca): a replica takes new sequences whenever it has room, between any two steps.</summary>
internal sealed class ContinuousBatching : IBatchingPolicy
{
    public const string PolicyName = "continuous";

    public string Name => PolicyName;

    public bool JoinsRunningBatches => true;
}
