namespace Scheduler.Simulator.Workload;

/// <summary>
/// The TTFT objective given to every replayed request: 500 ms plus 0.25 ms per prompt token (a 2,048-token
/// prompt gets ≈ 1.0 s, a 7,436-token one ≈ 2.4 s). Long prompts take longer to prefill on any accelerator,
/// so a flat objective would be either trivial for short prompts or impossible for long ones.
/// </summary>
internal static class TtftObjective
{
    public const double BaseMs = 500;
    public const double PerPromptTokenMs = 0.25;

    public static double For(int promptTokens) => BaseMs + (PerPromptTokenMs * promptTokens);
}
