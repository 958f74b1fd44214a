using System.Globalization;
using Scheduler.Protos.V1;

namespace Scheduler.Protos.Errors;

/// <summary>
/// OpenAI's rate-limit headers (<c>x-ratelimit-limit-requests</c>, <c>-remaining-</c>, <c>-reset-</c>, and the same for
/// tokens), as the silo writes them — trailers of a gRPC refusal by a tenant quota, headers on the OpenAI door — and as
/// the .NET client rebuilds them from a <c>StreamJobs</c> refusal, which carries them as numbers
/// (<see cref="SubmissionRefused.Requests"/>, <see cref="SubmissionRefused.Tokens"/>): one spelling whichever call.
/// </summary>
public static class RateLimitTrailers
{
    public const string Prefix = "x-ratelimit-";

    /// <summary>The trailers of a StreamJobs refusal's rate limits; none for a quota it has none of.</summary>
    public static List<KeyValuePair<string, string>> Of(SubmissionRefused refused)
    {
        var trailers = new List<KeyValuePair<string, string>>(6);
        foreach (var (kind, limit) in new[] { ("requests", refused.Requests), ("tokens", refused.Tokens) })
        {
            if (limit is not null)
            {
                Add(trailers, kind, limit.Limit, limit.Remaining, TimeSpan.FromMilliseconds(limit.ResetMs));
            }
        }

        return trailers;
    }

    /// <summary>Adds the three of one quota (<paramref name="kind"/> "requests" or "tokens").</summary>
    public static void Add(List<KeyValuePair<string, string>> trailers, string kind, long limit, long remaining, TimeSpan reset)
    {
        trailers.Add(KeyValuePair.Create(Prefix + "limit-" + kind, Invariant(limit)));
        trailers.Add(KeyValuePair.Create(Prefix + "remaining-" + kind, Invariant(remaining)));
        trailers.Add(KeyValuePair.Create(Prefix + "reset-" + kind, Duration(reset)));
    }

    /// <summary>Whole milliseconds, rounded up so that a client waiting for them is never early (what
    /// <see cref="RateLimit.ResetMs"/> carries; <see cref="Duration"/> rounds the same way).</summary>
    public static long Milliseconds(TimeSpan time) => (long)Math.Ceiling(time.TotalMilliseconds);

    /// <summary>A time as OpenAI writes its resets (Go's duration format: <c>0s</c>, <c>12ms</c>, <c>1.5s</c>,
    /// <c>1m0s</c>), rounded up to the millisecond so that a client waiting for it is never early.</summary>
    public static string Duration(TimeSpan time)
    {
        var ms = Milliseconds(time);
        if (ms < 1000)
        {
            return ms <= 0 ? "0s" : Invariant(ms) + "ms";
        }

        var (minutes, rest) = Math.DivRem(ms, 60_000);
        var seconds = Invariant(rest / 1000) + (rest % 1000 > 0 ? "." + (rest % 1000).ToString("000", CultureInfo.InvariantCulture).TrimEnd('0') : "") + "s";
        return minutes > 0 ? Invariant(minutes) + "m" + seconds : seconds;
    }

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
