using LLama;
using LLama.Native;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>What a context's memory can do, asked of llama.cpp itself rather than inferred from the model's architecture.</summary>
internal static class LlamaMemory
{
    /// <summary>
    /// Whether <paramref name="context"/>'s memory can be cut back to a prefix of a sequence, as a KV cache (a cell per
    /// position) can. A recurrent model (Mamba, RWKV) holds one state per sequence, and a hybrid (Jamba, Granite 4.0-H)
    /// such a state beside its KV cache: llama.cpp refuses the cut and keeps the whole state, and a prompt then prefilled
    /// as though only the shared prefix were there made llama_decode refuse the batch, which ended the replica's step
    /// loop. LLamaSharp says neither whether a cut was made nor whether a model is hybrid, so two positions are decoded
    /// in sequence 0 and the second removed: the sequence's last position tells. The memory is cleared after.
    /// </summary>
    /// <param name="context">A new context, holding nothing yet.</param>
    /// <param name="filler">A token of the model's vocabulary to decode.</param>
    public static bool KeepsPrefixes(SafeLLamaContextHandle context, LLamaToken filler)
    {
        var batch = new LLamaBatch();
        batch.Add(filler, 0, (LLamaSeqId)0, logits: false);
        batch.Add(filler, 1, (LLamaSeqId)0, logits: true);
        if (context.Decode(batch) is var result and not DecodeResult.Ok)
        {
            throw new InvalidOperationException($"llama.cpp could not decode two tokens in a new context: {result}.");
        }

        context.MemorySequenceRemove((LLamaSeqId)0, 1, -1);
        var kept = context.MemorySequenceMaxPosition((LLamaSeqId)0).Value == 0;
        context.MemoryClear(data: true);
        return kept;
    }
}
