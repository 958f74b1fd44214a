namespace Scheduler.Worker.Engines.Llama;

/// <summary>How a llama.cpp replica has batched: its decode calls and how many sequences and tokens they held.</summary>
/// <param name="Decodes">Decode calls, one per step that had tokens.</param>
/// <param name="BatchedSequences">Sequences summed over all decode calls (a sequence appears once per call).</param>
/// <param name="MaxBatchSequences">The most sequences one decode call held.</param>
/// <param name="MaxBatchTokens">The most tokens one decode call held.</param>
internal sealed record LlamaEngineStats(long Decodes, long BatchedSequences, int MaxBatchSequences, int MaxBatchTokens)
{
    /// <summary>These stats after one more decode call of <paramref name="sequences"/> sequences and <paramref name="tokens"/> tokens.</summary>
    public LlamaEngineStats After(int sequences, int tokens) => new(
        Decodes + 1,
        BatchedSequences + sequences,
        Math.Max(MaxBatchSequences, sequences),
        Math.Max(MaxBatchTokens, tokens));
}
