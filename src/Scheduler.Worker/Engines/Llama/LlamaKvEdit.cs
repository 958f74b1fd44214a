using LLama.Native;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>A change to a slot's KV cells that the step loop makes before its next decode: without
/// <paramref name="From"/>, remove <paramref name="Slot"/>'s positions from <paramref name="Keep"/> on; with it, give
/// <paramref name="Slot"/> the cells of <paramref name="From"/>'s positions below <paramref name="Keep"/> (in a cache
/// the slots share, llama.cpp only tags those cells with the second sequence id: nothing is computed or copied).</summary>
internal readonly record struct LlamaKvEdit(LLamaSeqId Slot, int Keep, LLamaSeqId? From = null)
{
    public void Apply(SafeLLamaContextHandle context)
    {
        if (From is { } from)
        {
            context.MemorySequenceCopy(from, Slot, 0, Keep);
        }
        else
        {
            context.MemorySequenceRemove(Slot, Keep, -1);
        }
    }
}
