using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>
/// How schedctl writes a job's prompt tokens, saying who counted them: the scheduler's estimate (a text or chat prompt
/// counted at submission by the catalog's tokenizer) is written <c>~22</c>; an exact count — the engine's, or the
/// number of token ids the prompt came as — plainly, <c>22</c>. The same job read before and after its engine reported
/// showed two numbers with nothing to tell them apart (an outside probe, I-F10).
/// </summary>
internal static class PromptTokenFigures
{
    /// <summary>A count as <paramref name="source"/> makes it: <c>~N</c> for an estimate. A source not said (a silo
    /// from before the field) is written as it always was, plainly: schedctl cannot know.</summary>
    public static string Of(int tokens, PromptTokensSource source) =>
        source == PromptTokensSource.SchedulerEstimate ? "~" + Format.Number(tokens) : Format.Number(tokens);

    /// <summary>The best count of a job's prompt: the engine's once it reported one, else the scheduler's.</summary>
    public static string Of(Job job) => job.Usage is { PromptTokensSource: PromptTokensSource.Engine } usage
        ? Of(usage.PromptTokens, usage.PromptTokensSource)
        : Of(job.PromptTokens, job.PromptTokensSource);

    /// <summary>The best count with who made it in words, and the scheduler's estimate beside an engine's count that
    /// differs from it (what the job was scheduled and metered by until then).</summary>
    public static string Described(Job job)
    {
        if (job.Usage is { PromptTokensSource: PromptTokensSource.Engine } usage)
        {
            var estimate = usage.PromptTokens != job.PromptTokens
                ? $"; the scheduler counted {Of(job.PromptTokens, job.PromptTokensSource)}"
                : "";
            return $"{Format.Number(usage.PromptTokens)} (the engine's count{estimate})";
        }

        return job.PromptTokensSource switch
        {
            PromptTokensSource.SchedulerEstimate => $"{Of(job.PromptTokens, job.PromptTokensSource)} (the scheduler's estimate; the engine has not reported its count)",
            PromptTokensSource.TokenIds => $"{Format.Number(job.PromptTokens)} (token ids)",
            _ => Format.Number(job.PromptTokens),
        };
    }
}
