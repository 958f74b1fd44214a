namespace Scheduler.Policies.Capacity;

/// <summary>A model's recent demand, as the <see cref="CapacityPolicy"/> reads it.</summary>
/// <param name="PromptTokensPerSecond">Prompt tokens arriving per second over the recent window.</param>
/// <param name="OutputTokensPerSecond">Output tokens requested per second over the recent window.</param>
/// <param name="MeanTokensPerRequest">Mean prompt plus output tokens of a request: how many fit in a KV cache at once.</param>
/// <param name="QueuedPromptTokens">Prompt tokens of the jobs waiting in the queue now.</param>
/// <param name="QueuedOutputTokens">Output tokens of the jobs waiting in the queue now.</param>
/// <param name="Attainment">Share of recent jobs whose first token met its objective; NaN when none finished.</param>
/// <param name="PeakPromptTokensPerSecond">The prompt rate the recent bursts needed (at least the window's mean): the
/// lowest rate at which each of their prompts, prefilled in arrival order, met its TTFT objective. What a burst like
/// the recent ones asks of prefill, which the window's mean hides.</param>
public sealed record DemandSignal(
    double PromptTokensPerSecond,
    double OutputTokensPerSecond,
    double MeanTokensPerRequest,
    long QueuedPromptTokens,
    long QueuedOutputTokens,
    double Attainment,
    double PeakPromptTokensPerSecond)
{
    /// <summary>True when nothing arrives and nothing waits.</summary>
    public bool Idle => PromptTokensPerSecond <= 0 && OutputTokensPerSecond <= 0 && QueuedPromptTokens <= 0 && QueuedOutputTokens <= 0;
}
