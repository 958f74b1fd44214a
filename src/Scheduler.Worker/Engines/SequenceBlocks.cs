using Scheduler.Policies.Prefix;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines;

/// <summary>A sequence's prompt cut into blocks exactly as the scheduler cuts the job's (its placement's prefix index),
/// so the hashes an engine reports name the blocks the scheduler knows: by its token ids when it has them, else by its
/// text. Null for a prompt shorter than a block.</summary>
internal static class SequenceBlocks
{
    public static PromptBlocks? Of(SequenceSpec spec) =>
        spec.PromptTokenIds.Count > 0 ? PromptBlocks.FromTokenIds(spec.PromptTokenIds) : PromptBlocks.FromText(spec.Prompt);
}
