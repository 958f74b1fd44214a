using System.Globalization;
using Grpc.Core;
using Scheduler.Abstractions.Tenants;

namespace Scheduler.Silo.Api;

/// <summary>
/// OpenAI's rate-limit headers (<c>x-ratelimit-limit-requests</c>, <c>-remaining-</c>, <c>-reset-</c>, and the same for
/// tokens) from where a tenant stood against its per-minute quotas when its submission was decided, which the tenant
/// grain returns with its answer (<see cref="SubmitResult.Requests"/>, <see cref="SubmitResult.Tokens"/>): no call of
/// their own. The OpenAI door sends them on an accepted job's response; a refusal by a quota carries them as trailers,
/// which gRPC sends as they are and the OpenAI door's error mapping turns back into headers.
/// </summary>
internal static class RateLimitHeaders
{
    public const string Prefix = "x-ratelimit-";

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
        [.. trailers.Where(t => !t.IsBinary && t.Key.StartsWith(Prefix, StringComparison.Ordinal)).Select(t => KeyValuePair.Create(t.Key, t.Value))];

    public static void Write(IHeaderDictionary response, IEnumerable<KeyValuePair<string, string>> headers)
    {
        foreach (var (name, value) in headers)
        {
            response[name] = value;
        }
    }

    /// <summary>A time as OpenAI writes its resets (Go's duration format: <c>0s</c>, <c>12ms</c>, <c>1.5s</c>,
    /// <c>1m0s</c>), rounded up to the millisecond so that a client waiting for it is never early.</summary>
    public static string Duration(TimeSpan time)
    {
        var ms = (long)Math.Ceiling(time.TotalMilliseconds);
        if (ms < 1000)
        {
            return ms <= 0 ? "0s" : Invariant(ms) + "ms";
        }

        var (minutes, rest) = Math.DivRem(ms, 60_000);
        var seconds = Invariant(rest / 1000) + (rest % 1000 > 0 ? "." + (rest % 1000).ToString("000", CultureInfo.InvariantCulture).TrimEnd('0') : "") + "s";
        return minutes > 0 ? Invariant(minutes) + "m" + seconds : seconds;
    }

    private static void Add(List<KeyValuePair<string, string>> headers, string kind, QuotaHeadroom? quota)
    {
        if (quota is null)
        {
            return;
        }

        headers.Add(KeyValuePair.Create(Prefix + "limit-" + kind, Invariant(quota.Limit)));
        headers.Add(KeyValuePair.Create(Prefix + "remaining-" + kind, Invariant(quota.Remaining)));
        headers.Add(KeyValuePair.Create(Prefix + "reset-" + kind, Duration(quota.Reset)));
    }

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
