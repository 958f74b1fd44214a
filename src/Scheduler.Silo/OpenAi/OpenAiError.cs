namespace Scheduler.Silo.OpenAi;

/// <summary>An error as the OpenAI API shapes it (<c>{"error":{"message","type","param","code"}}</c>), with its HTTP
/// status and, for a refusal a retry can pass, how long to wait; a refusal by a tenant's quota also has its
/// <see cref="RateLimits"/> headers (<see cref="Api.RateLimitHeaders"/>).</summary>
internal sealed record OpenAiError(int Status, string Type, string Message, string? Param = null, string? Code = null, long? RetryAfterMs = null)
{
    public IReadOnlyList<KeyValuePair<string, string>> RateLimits { get; init; } = [];

    public byte[] ToJson() => OpenAiJson.Error(Message, Type, Param, Code);
}
