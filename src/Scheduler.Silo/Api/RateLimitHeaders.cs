using Grpc.Core;
using Scheduler.Abstractions.Tenants;
using Scheduler.Protos.Errors;

namespace Scheduler.Silo.Api;

/// <summary>
/// OpenAI's rate-limit headers (<c>x-ratelimit-limit-requests</c>, <c>-remaining-</c>, <c>-reset-</c>, and the same for
/// tokens) from where a tenant stood against its per-minute quotas when its submission was decided, which the tenant
/// grain returns with its answer (<see cref="SubmitResult.Requests"/>, <see cref="SubmitResult.Tokens"/>): no call of
/// their own. The OpenAI door sends them on an accepted job's response; a refusal by a quota carries them as trailers,
/// which gRPC sends as they are and the OpenAI door's error mapping turns back into headers. Spelt by
/// <see cref="RateLimitTrailers"/>, as the .NET client rebuilds them from a StreamJobs refusal.
/// </summary>
internal static class RateLimitHeaders
{
    /// <summary>The headers of <paramref name="result"/>'s quotas; none for a quota the tenant does not have.</summary>
    public static List<KeyValuePair<string, string>> Of(SubmitResult result)
    {
        var headers = new List<KeyValuePair<string, string>>(6);
        Add(headers, "requests", result.Requests);
        Add(headers, "tokens", result.Tokens);
        return headers;
    }

    /// <summary>The headers a refusal carries as trailers (see <see cref="Of(SubmitResult)"/>).</summary>
    public static List<KeyValuePair<string, string>> Of(Metadata trailers) =>
        [.. trailers.Where(t => !t.IsBinary && t.Key.StartsWith(RateLimitTrailers.Prefix, StringComparison.Ordinal)).Select(t => KeyValuePair.Create(t.Key, t.Value))];

    public static void Write(IHeaderDictionary response, IEnumerable<KeyValuePair<string, string>> headers)
    {
        foreach (var (name, value) in headers)
        {
            response[name] = value;
        }
    }

    private static void Add(List<KeyValuePair<string, string>> headers, string kind, QuotaHeadroom? quota)
    {
        if (quota is not null)
        {
            RateLimitTrailers.Add(headers, kind, quota.Limit, quota.Remaining, quota.Reset);
        }
    }
}
