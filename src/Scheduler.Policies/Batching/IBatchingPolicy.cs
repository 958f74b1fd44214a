namespace Scheduler.Policies.Batching;

/// <summary>Decides when a replica takes new sequences.</summary>
public interface IBatchingPolicy
{
    /// <summary>The name configuration selects the policy by.</summary>
    string Name { get; }

    /// <summary>True when a replica running sequences takes new ones between any two steps (iteration level); false
    /// when it takes a new batch only once its current batch has drained, the batch being whatever fits in that one
    /// admission round. The dispatcher's replica set applies the rule in each round.</summary>
    bool JoinsRunningBatches { get; }
}
