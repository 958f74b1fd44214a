using Scheduler.Protos.V1;

namespace Scheduler.Worker.Engines;

/// <summary>The prompt's length as the scheduler counted it: <c>prompt_tokens</c>, or the number of prompt token ids
/// when it sent those.</summary>
internal static class SchedulerPromptTokens
{
    public static int Of(SequenceSpec spec) => spec.PromptTokens > 0 ? spec.PromptTokens : spec.PromptTokenIds.Count;
}
