namespace Scheduler.Protos.Errors;

/// <summary>The one-word reasons (as <c>google.rpc.ErrorInfo.reason</c> is written) the scheduler and its engines give
/// for a request that cannot be served as asked: in a refusal's <c>ErrorInfo</c>, and in an engine's
/// <c>SequenceFinished.error_reason</c>.</summary>
public static class ErrorReasons
{
    /// <summary>The <c>ErrorInfo</c> domain of the scheduler's reasons (AIP-193: the service that says them).</summary>
    public const string Domain = "scheduler.v1";

    /// <summary>The prompt with max_tokens does not fit what the model can hold; OpenAI's API calls it
    /// <c>context_length_exceeded</c>.</summary>
    public const string ContextLengthExceeded = "CONTEXT_LENGTH_EXCEEDED";

    /// <summary>A sheddable job refused because its model's queue is over its overload threshold: the scheduler is busy,
    /// not the tenant over a quota (both RESOURCE_EXHAUSTED); OpenAI's API answers such a refusal 503.</summary>
    public const string Overloaded = "OVERLOADED";

    /// <summary>A job larger than its tenant's quota admits in a minute (its prompt plus max_tokens over tokens_per_minute):
    /// FAILED_PRECONDITION, since no retry can pass until the quota is raised or the request made smaller. Its metadata
    /// names the <c>quota</c>, its <c>limit</c> and the tokens <c>requested</c>.</summary>
    public const string LargerThanQuota = "LARGER_THAN_QUOTA";

    /// <summary>A job refused by one of its tenant's quotas until it refills (RESOURCE_EXHAUSTED with a RetryInfo): its
    /// metadata names the <c>quota</c> (requests_per_minute, tokens_per_minute or max_queued_jobs) and its <c>limit</c>,
    /// so a client tells which limit it hit without reading the message (OpenAI's API says it in the error's type).</summary>
    public const string RateLimitExceeded = "RATE_LIMIT_EXCEEDED";

    /// <summary>A prompt token id is not in the model's vocabulary.</summary>
    public const string TokenOutOfVocabulary = "TOKEN_OUT_OF_VOCABULARY";

    /// <summary>An idempotency key already bound to another request of the tenant (ALREADY_EXISTS).</summary>
    public const string IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED";

    /// <summary>An API key another tenant already holds (ALREADY_EXISTS).</summary>
    public const string ApiKeyTaken = "API_KEY_TAKEN";

    /// <summary>A node id another running worker process holds with a live lease (ALREADY_EXISTS on RegisterNode): two
    /// workers were given one node id.</summary>
    public const string NodeIdTaken = "NODE_ID_TAKEN";
}
