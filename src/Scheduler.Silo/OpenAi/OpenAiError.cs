namespace Scheduler.Silo.OpenAi;

/// <summary>An error as the OpenAI API shapes it (<c>{"error":{"message","type","param","code"}}</c>), with its HTTP
/// status and, for a refusal a retry can pass, how long to wait; a refusal by a tenant's quota also has its
/// <see cref="RateLimits"/> headers (<see cref="Api.RateLimitHeaders"/>). <see cref="Final"/> marks one that the same
/// request answers again, whose status the OpenAI SDKs would otherwise retry.</summary>
internal sealed record OpenAiError(int Status, string Type, string Message, string? Param = null, string? Code = null, long? RetryAfterMs = null)
{
    public IReadOnlyList<KeyValuePair<string, string>> RateLimits { get; init; } = [];

    /// <summary>Sent with <c>x-should-retry: false</c>: OpenAI's Python and Node SDKs (and other Stainless-made clients)
    /// retry a 409 or a 429 twice by default unless the answer says not to, and obey that header before the status.</summary>
    public bool Final { get; init; }

    public byte[] ToJson() => OpenAiJson.Error(Message, Type, Param, Code);
}
