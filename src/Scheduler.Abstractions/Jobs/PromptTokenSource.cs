namespace Scheduler.Abstractions.Jobs;

/// <summary>Who counted a job's prompt tokens: the scheduler at submission (an estimate for a text or chat prompt, the
/// exact number of token ids given) or the engine that ran it. Operators read the figures differently (schedctl marks
/// an estimate), so the records say which. <see cref="Unknown"/> is what a record written before the field reads as.</summary>
public enum PromptTokenSource
{
    Unknown = 0,

    /// <summary>A text or chat prompt counted by the catalog's tokenizer, which need not be the engine's.</summary>
    SchedulerEstimate = 1,

    /// <summary>The prompt came as token ids: their number.</summary>
    TokenIds = 2,

    /// <summary>Reported by the engine that ran the job, by the model's own tokenizer.</summary>
    Engine = 3,
}

/// <summary>How the front door's count of a request's prompt was made.</summary>
public static class PromptTokenSources
{
    /// <summary>The source of <see cref="JobRequest.PromptTokens"/>: exact for token ids, an estimate otherwise.</summary>
    public static PromptTokenSource Of(JobRequest request) =>
        request.PromptTokenIds is { Length: > 0 } ? PromptTokenSource.TokenIds : PromptTokenSource.SchedulerEstimate;
}
