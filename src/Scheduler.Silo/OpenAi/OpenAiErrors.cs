using System.Globalization;
using Grpc.Core;
using Scheduler.Abstractions.Jobs;
using Scheduler.Protos.Errors;
using Scheduler.Silo.Api;
using Scheduler.Silo.Nodes;

namespace Scheduler.Silo.OpenAi;

/// <summary>
/// The one place failures become OpenAI-shaped errors, as <see cref="SchedulerErrors"/> and <see cref="ErrorInterceptor"/>
/// are for gRPC. The submission path throws the same <see cref="SchedulerErrors"/> for both doors; here their status
/// picks the HTTP status, and the field they name becomes the request's <c>param</c> (the JSON field, or the header
/// that set it). Anything unexpected is a logged 500 that shows nothing.
/// </summary>
internal sealed partial class OpenAiErrors(ILogger<OpenAiErrors> logger)
{
    /// <summary>The submission's field names whose OpenAI request counterpart has another name.</summary>
    private static readonly Dictionary<string, string> Params = new(StringComparer.Ordinal)
    {
        ["stop_sequences"] = "stop",
        ["prompt_token_ids"] = "prompt",
        ["priority"] = SchedulerHeaders.Names.Priority,
        ["deadline_ms"] = SchedulerHeaders.Names.DeadlineMs,
        ["ttft_objective_ms"] = SchedulerHeaders.Names.TtftObjectiveMs,
        ["idempotency_key"] = SchedulerHeaders.Names.IdempotencyKey,
        ["session_id"] = SchedulerHeaders.Names.SessionId,
    };

    /// <summary>The error <paramref name="ex"/> answers; a refusal of max_tokens names <paramref name="maxTokensField"/>,
    /// the request's field that set it.</summary>
    public OpenAiError Map(Exception ex, OpenAiKind kind, string maxTokensField = OpenAiRequest.MaxTokens) => ex switch
    {
        RpcException rpc => FromStatus(rpc, kind, maxTokensField) with { RateLimits = RateLimitHeaders.Of(rpc.Trailers) },
        BadHttpRequestException bad => new(bad.StatusCode, "invalid_request_error", bad.Message),
        _ when SchedulerErrors.Transient(ex) is { } unavailable => FromStatus(unavailable, kind, maxTokensField),
        _ => Unexpected(ex),
    };

    /// <summary>A job that ended without completing: failed on its node, expired in the queue, or cancelled by a
    /// CancelJob call. A failure that was the request's fault (its engine found the prompt too long by the model's own
    /// tokenizer, or not in its vocabulary) is a 400 naming the prompt, as the front door's own refusal would have been:
    /// a 500 would be retried by the SDKs, each retry a new job failing alike.</summary>
    public static OpenAiError ForEnd(JobEventRecord end, OpenAiKind kind) => end.Kind switch
    {
        JobEventKind.Expired => new(StatusCodes.Status504GatewayTimeout, "server_error", end.Error ?? "the job expired", Code: "deadline_exceeded"),
        // Final: a retry without an Idempotency-Key would run the job its operator cancelled again, as a new job.
        JobEventKind.Cancelled => new(StatusCodes.Status409Conflict, "invalid_request_error", $"job '{end.JobId}' was cancelled", Code: "job_cancelled") { Final = true },
        _ => EngineFailures.RequestFault(end.Error) switch
        {
            ErrorReasons.ContextLengthExceeded => new(StatusCodes.Status400BadRequest, "invalid_request_error", end.Error!, PromptParam(kind), "context_length_exceeded"),
            ErrorReasons.TokenOutOfVocabulary => new(StatusCodes.Status400BadRequest, "invalid_request_error", end.Error!, PromptParam(kind)),
            _ => new(StatusCodes.Status500InternalServerError, "server_error", end.Error ?? "the job failed", Code: "job_failed"),
        },
    };

    private static string PromptParam(OpenAiKind kind) => kind == OpenAiKind.Chat ? "messages" : "prompt";

    /// <summary>Answers with the error <paramref name="ex"/> maps to; the response must not have started.</summary>
    public Task Write(HttpContext http, Exception ex, OpenAiKind kind) => Write(http, Map(ex, kind));

    public static async Task Write(HttpContext http, OpenAiError error)
    {
        var response = http.Response;
        response.StatusCode = error.Status;
        response.ContentType = OpenAiJson.ContentType;
        if (error.RetryAfterMs is { } ms)
        {
            // Retry-After is whole seconds, rounded up so a retry at the hint is never early; the OpenAI SDKs read the
            // finer retry-after-ms first.
            response.Headers.RetryAfter = ((ms + 999) / 1000).ToString(CultureInfo.InvariantCulture);
            response.Headers["retry-after-ms"] = ms.ToString(CultureInfo.InvariantCulture);
        }

        RateLimitHeaders.Write(response.Headers, error.RateLimits);
        if (error.Final)
        {
            response.Headers["x-should-retry"] = "false";
        }

        await response.Body.WriteAsync(error.ToJson(), http.RequestAborted);
    }

    /// <summary>What a client of the OpenAI door is told when its silo drains.</summary>
    public const string DrainingMessage =
        "this scheduler silo is draining: send the request again and another silo answers it; with the same Idempotency-Key it is the same job, its answer from the start";

    private static OpenAiError FromStatus(RpcException rpc, OpenAiKind kind, string maxTokensField)
    {
        var message = rpc.Status.Detail;
        var field = SchedulerErrors.FieldOf(rpc);
        var param = field == OpenAiRequest.MaxTokens ? maxTokensField : Param(field, kind);
        if (field is not null && param != field && message.StartsWith(field + ":", StringComparison.Ordinal))
        {
            // The message leads with the submission's field; name the one this request set ("stop", not "stop_sequences").
            message = param + message[field.Length..];
        }

        return rpc.StatusCode switch
        {
            // OpenAI's API answers a request larger than a per-minute limit with this 429 ("Request too large for … on
            // tokens per min (TPM): Limit N, Requested M", type tokens, code rate_limit_exceeded, param null), and OpenAI clients and
            // gateways know it by that (LiteLLM raises its RateLimitError; apps trim the conversation), so it stays a 429
            // here though gRPC says FAILED_PRECONDITION. It has no Retry-After, and is final: no wait lets it pass, and the
            // message says that only a smaller request or a larger quota helps.
            StatusCode.FailedPrecondition when SchedulerErrors.IsLargerThanQuota(rpc) =>
                new(StatusCodes.Status429TooManyRequests, RateLimitType(rpc), message, Code: "rate_limit_exceeded") { Final = true },

            // A prompt plus max_tokens that do not fit has OpenAI's code, which clients act on (trimming the conversation).
            StatusCode.InvalidArgument or StatusCode.FailedPrecondition => new(
                StatusCodes.Status400BadRequest, "invalid_request_error", message, param, SchedulerErrors.IsOverContext(rpc) ? "context_length_exceeded" : null),
            StatusCode.NotFound when message.StartsWith("model '", StringComparison.Ordinal) =>
                new(StatusCodes.Status404NotFound, "invalid_request_error", message, "model", "model_not_found"),
            StatusCode.NotFound => new(StatusCodes.Status404NotFound, "invalid_request_error", message, Code: "not_found"),
            StatusCode.Unauthenticated => new(StatusCodes.Status401Unauthorized, "invalid_request_error", message, Code: "invalid_api_key"),
            StatusCode.PermissionDenied => new(StatusCodes.Status403Forbidden, "permission_error", message, Code: "permission_denied"),
            // Shed under load: the scheduler is busy, not the tenant over its quota, and OpenAI's API says so with a 503
            // (a 429 rate_limit_exceeded told clients, and gateways that pace per key, that the key was over a limit).
            StatusCode.ResourceExhausted when SchedulerErrors.IsOverloaded(rpc) =>
                new(StatusCodes.Status503ServiceUnavailable, "server_error", message, Code: "server_is_overloaded", RetryAfterMs: SchedulerErrors.RetryAfterMs(rpc)),
            StatusCode.ResourceExhausted =>
                new(StatusCodes.Status429TooManyRequests, RateLimitType(rpc), message, Code: "rate_limit_exceeded", RetryAfterMs: SchedulerErrors.RetryAfterMs(rpc)),
            StatusCode.AlreadyExists =>
                new(StatusCodes.Status409Conflict, "invalid_request_error", message, SchedulerHeaders.Names.IdempotencyKey, "idempotency_key_reused") { Final = true },
            // WatchJob is no advice for an OpenAI client: the request again is (the SDKs retry a 503 by themselves), and
            // with its Idempotency-Key the retry gets the same job and its whole answer from the start (checked by an
            // SRE probe: a drained stream's retry on another silo streamed all 400 tokens of the same job).
            StatusCode.Unavailable when SchedulerErrors.IsDraining(rpc) => new(StatusCodes.Status503ServiceUnavailable, "server_error", DrainingMessage, Code: "unavailable"),
            StatusCode.Unavailable => new(StatusCodes.Status503ServiceUnavailable, "server_error", message, Code: "unavailable"),
            _ => new(StatusCodes.Status500InternalServerError, "server_error", "internal error"),
        };
    }

    /// <summary>The type of a 429 by a limit, as OpenAI's API says which it hit: <c>tokens</c> for tokens_per_minute,
    /// <c>requests</c> for requests_per_minute, and for the other limits on requests (max_queued_jobs, the guard against
    /// repeated failed authentication). Clients (openai-python's RateLimitError, LiteLLM) and gateways go by the status
    /// and <c>code</c>; the type tells a client which budget to wait for.</summary>
    private static string RateLimitType(RpcException rpc) => SchedulerErrors.QuotaOf(rpc) == "tokens_per_minute" ? "tokens" : "requests";

    private static string? Param(string? field, OpenAiKind kind) => field switch
    {
        null => null,
        "prompt" when kind == OpenAiKind.Chat => "messages",
        _ => Params.GetValueOrDefault(field, field),
    };

    private OpenAiError Unexpected(Exception ex)
    {
        LogUnhandled(logger, ex);
        return new(StatusCodes.Status500InternalServerError, "server_error", "internal error");
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error in the OpenAI-compatible API")]
    private static partial void LogUnhandled(ILogger logger, Exception ex);
}
