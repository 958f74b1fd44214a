using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>How a llama.cpp replica has batched: its decode calls and how many sequences and tokens they held.</summary>
/// <param name="Decodes">Decode calls: one per step that had tokens, or one per micro-batch of a step whose prefill
/// runs in several (<see cref="Scheduler.Policies.Profiles.StepPlan.MicroBatchTokens"/>).</param>
/// <param name="BatchedSequences">Sequences summed over all decode calls (a sequence appears once per call).</param>
/// <param name="MaxBatchSequences">The most sequences one decode call held.</param>
/// <param name="BatchedTokens">Tokens summed over all decode calls.</param>
/// <param name="MaxBatchTokens">The most tokens one decode call held.</param>
internal sealed record LlamaEngineStats(long Decodes, long BatchedSequences, int MaxBatchSequences, long BatchedTokens, int MaxBatchTokens)
{
    public static LlamaEngineStats None { get; } = new(0, 0, 0, 0, 0);

    /// <summary>These stats after one more decode call of <paramref name="sequences"/> sequences and <paramref name="tokens"/> tokens.</summary>
    public LlamaEngineStats After(int sequences, int tokens) => new(
        Decodes + 1,
        BatchedSequences + sequences,
        Math.Max(MaxBatchSequences, sequences),
        BatchedTokens + tokens,
        Math.Max(MaxBatchTokens, tokens));

    /// <summary>Writes the stats into the capacity a step report carries, for the scheduler and its operators.</summary>
    public void WriteTo(ReplicaCapacity capacity)
    {
        capacity.DecodeCalls = Decodes;
        capacity.DecodeSequences = BatchedSequences;
        capacity.PeakDecodeSequences = MaxBatchSequences;
        capacity.DecodeTokens = BatchedTokens;
        capacity.PeakDecodeTokens = MaxBatchTokens;
    }
}
