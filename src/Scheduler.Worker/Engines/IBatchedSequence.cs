using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines;

/// <summary>A sequence in an engine's <see cref="RunningBatch{TSequence}"/>.</summary>
internal interface IBatchedSequence
{
    string Id { get; }

    /// <summary>The W3C trace context the scheduler sent with the sequence; empty when none.</summary>
    string TraceParent { get; }

    /// <summary>The scheduler's fair rank for it (<see cref="SequenceSpec.FairRank"/>): the batch keeps its sequences
    /// in ascending rank, so a step's prefill budget goes to lower ranks first.</summary>
    double FairRank { get; }

    /// <summary>KV-cache tokens reserved for the sequence's whole life: prompt plus max output.</summary>
    long KvTokens { get; }

    /// <summary>The prompt's length in tokens, as the engine counts it (the scheduler's count when it has no tokenizer).</summary>
    int PromptTokens { get; }

    /// <summary>Prompt tokens found in the engine's prefix cache at admission, which are not prefilled again; 0 without one.</summary>
    int CachedPromptTokens { get; }

    /// <summary>The report that the sequence ended for <paramref name="reason"/>.</summary>
    SequenceFinished Finished(FinishReason reason);
}
