using Scheduler.Protos.V1;

namespace Scheduler.Silo.OpenAi;

/// <summary>An OpenAI generation request read into the submission it makes, and how to answer it.</summary>
/// <param name="Submit">The submission, without the options set by headers (<see cref="SchedulerHeaders"/>).</param>
/// <param name="Stream">Answer with server-sent events.</param>
/// <param name="IncludeUsage">A streamed answer ends with a usage chunk (<c>stream_options.include_usage</c>).</param>
/// <param name="User">The end user the client named.</param>
/// <param name="MaxTokensField">The request's field that set the submission's max_tokens: <c>max_completion_tokens</c>
/// when the request set it, which a refusal then names.</param>
/// <param name="FitMaxTokens">The request set no max_tokens: its default (a chat's the model's most, a completion's 16)
/// is lowered to what the prompt leaves of the context (OpenAI's default is the rest of the context) and of the tenant's
/// tokens_per_minute quota.</param>
internal sealed record OpenAiRequest(
    SubmitJobRequest Submit, bool Stream, bool IncludeUsage, string? User, string MaxTokensField = OpenAiRequest.MaxTokens, bool FitMaxTokens = false)
{
    public const string MaxTokens = "max_tokens";

    public const string MaxCompletionTokens = "max_completion_tokens";
}
