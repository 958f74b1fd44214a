namespace Scheduler.Abstractions.Jobs;

/// <summary>Why an engine stopped a sequence, as its node reported it (the worker protocol's <c>FinishReason</c>,
/// read once where a step report enters the silo).</summary>
public enum FinishReason
{
    /// <summary>Not set, or a value this silo does not know (a faulty or newer node): a job that ends so fails.</summary>
    Unknown = 0,

    /// <summary><c>max_tokens</c> reached.</summary>
    Length = 1,

    /// <summary>The stop text appeared in the output.</summary>
    Stop = 2,

    /// <summary>Cancelled by the scheduler.</summary>
    Cancelled = 3,

    /// <summary>The engine had no room for it at admission: the job is not over, it goes back to its queue.</summary>
    Rejected = 4,

    /// <summary>The engine can never run it (its prompt does not fit the model or the replica): the job fails with the
    /// engine's message and is not queued again.</summary>
    Error = 5,

    /// <summary>Stopped to make room for another job (preemption): the job is not over, it goes back to its queue.</summary>
    Preempted = 6,
}
