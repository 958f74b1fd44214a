using System.Threading.RateLimiting;

namespace Scheduler.Policies.Admission;

/// <summary>
/// A tenant's requests-per-minute and tokens-per-minute quotas, each a token bucket holding one minute's worth
/// (so a quiet tenant may burst up to its per-minute quota at once) and refilling continuously. A job is admitted
/// only if both have room, and only then is it charged to both: a refusal costs the tenant nothing. A job's tokens
/// are its prompt plus its max_tokens, reserved at submission like its KV cache. Zero means no quota.
/// </summary>
public sealed class TenantRateLimits(TimeProvider time)
{
    private static readonly TimeSpan s_minute = TimeSpan.FromMinutes(1);

    private TokenBucketLimiter? _requests;
    private TokenBucketLimiter? _tokens;

    // When the callers refused so far were told to come back, the last of them: each refusal is told a time after the
    // one before by what its own request refills, so callers refused together come back one after another, each to the
    // room made for it, instead of all at the first refill, where one would win and the rest be refused again. Never
    // later than when the buckets are whole again: a refusal cannot tell a new caller from one that came back before
    // its time (or an OpenAI SDK, which ignores a hint over a minute and retries on its own back-off), so without
    // that bound every early retry pushed every later caller's hint a refill further out (one client refused six times
    // in a second at 2 requests a minute was told 30, 60, 90, 120, 180 and 240 s, its bucket whole again in 60 s).
    private long _lastPromised;

    /// <summary>Sets the quotas. A quota that did not change keeps its bucket (and what it used).</summary>
    public void Configure(int requestsPerMinute, long tokensPerMinute)
    {
        _requests = Rebuild(_requests, requestsPerMinute);
        _tokens = Rebuild(_tokens, Math.Min(tokensPerMinute, int.MaxValue));
    }

    /// <summary>The requests_per_minute quota's limit, what is left of it and the time until it is whole again; null
    /// without the quota.</summary>
    public (long Limit, long Remaining, TimeSpan Reset)? Requests => Headroom(_requests);

    /// <summary>The same of the tokens_per_minute quota.</summary>
    public (long Limit, long Remaining, TimeSpan Reset)? Tokens => Headroom(_tokens);

    private static (long Limit, long Remaining, TimeSpan Reset)? Headroom(TokenBucketLimiter? bucket) =>
        bucket is null ? null : (bucket.Capacity, bucket.Available, bucket.TimeUntil(bucket.Capacity));

    /// <summary>The most output tokens, up to <paramref name="maxTokens"/>, that a job of <paramref name="promptTokens"/>
    /// prompt tokens may ask for within a whole minute's tokens_per_minute quota (at least 1: a prompt that leaves no room
    /// is then refused as larger than the quota, for its prompt). For a job whose max_tokens is a default, not the
    /// client's: fitted to the quota, not to what is left of it now, so the same request gets the same budget however
    /// busy its tenant is (a busy tenant is told when to retry instead).</summary>
    public int FitOutput(int promptTokens, int maxTokens) =>
        _tokens is { } bucket ? (int)Math.Clamp(bucket.Capacity - promptTokens, 1, maxTokens) : maxTokens;

    /// <summary>Admits a job of <paramref name="tokens"/> tokens, or says which quota refused it and when to retry
    /// (no retry time when the job is larger than a whole minute's quota: it can never be admitted).</summary>
    public RateDecision TryAdmit(long tokens)
    {
        if (_tokens is { } bucket && tokens > bucket.Capacity)
        {
            return new RateDecision(false, "tokens_per_minute",
                $"the job needs {tokens} tokens, more than the tokens_per_minute quota of {bucket.Capacity}", null, bucket.Capacity);
        }

        var requestWait = _requests?.TimeUntil(1) ?? TimeSpan.Zero;
        var tokenWait = _tokens?.TimeUntil(tokens) ?? TimeSpan.Zero;
        if (requestWait > TimeSpan.Zero || tokenWait > TimeSpan.Zero)
        {
            var (quota, limit) = requestWait >= tokenWait ? ("requests_per_minute", _requests!.Capacity) : ("tokens_per_minute", _tokens!.Capacity);
            return new RateDecision(false, quota, $"the tenant's {quota} quota of {limit} is used up", Promise(TimeSpan.FromTicks(Math.Max(requestWait.Ticks, tokenWait.Ticks)), tokens), limit);
        }

        // Both have room: these cannot be refused now (same clock reading or later, buckets only fill).
        Take(_requests, 1);
        Take(_tokens, tokens);
        return RateDecision.Admitted;
    }

    /// <summary>Gives back what an admitted job of <paramref name="tokens"/> tokens took, when it was not accepted after
    /// all (its journal write failed, or its placement shed it): like a refusal, it costs the tenant nothing.</summary>
    public void Refund(long tokens)
    {
        _requests?.Return(1);
        _tokens?.Return(tokens);
    }

    // The retry hint of a refusal whose own wait is `wait`: no sooner than the room the callers refused before it were
    // promised has been made again, plus what this request itself takes to refill.
    private TimeSpan Promise(TimeSpan wait, long tokens)
    {
        var now = time.GetTimestamp();
        var queued = _lastPromised > now ? time.GetElapsedTime(now, _lastPromised) : TimeSpan.Zero;
        var own = TimeSpan.FromTicks(Math.Max(_requests?.TimeToRefill(1).Ticks ?? 0, _tokens?.TimeToRefill(tokens).Ticks ?? 0));
        var hint = queued > TimeSpan.Zero ? Min(Max(wait, queued + own), WholeAgain()) : wait;
        _lastPromised = now + (long)(hint.TotalSeconds * time.TimestampFrequency);
        return hint;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a >= b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a <= b ? a : b;

    // When both buckets hold a whole minute's quota again (the x-ratelimit-reset-* the caller is shown): room then for
    // any request the quotas admit at all, so no caller need be told to wait longer.
    private TimeSpan WholeAgain() =>
        Max(_requests?.TimeUntil(_requests.Capacity) ?? TimeSpan.Zero, _tokens?.TimeUntil(_tokens.Capacity) ?? TimeSpan.Zero);

    private static void Take(TokenBucketLimiter? bucket, long permits)
    {
        if (bucket is null)
        {
            return;
        }

        using var lease = bucket.AttemptAcquire((int)permits);
        if (!lease.IsAcquired)
        {
            throw new InvalidOperationException("a bucket refused permits it had just reported available");
        }
    }

    private TokenBucketLimiter? Rebuild(TokenBucketLimiter? current, long perMinute) =>
        perMinute <= 0 ? null
        : current?.Capacity == perMinute ? current
        : new TokenBucketLimiter(perMinute, s_minute, time);
}

/// <summary>The answer of <see cref="TenantRateLimits.TryAdmit"/>.</summary>
/// <param name="IsAdmitted">True when the job was admitted and charged.</param>
/// <param name="Quota">The quota field that refused it.</param>
/// <param name="Message">Why, for the caller.</param>
/// <param name="RetryAfter">When the job would be admitted if nothing else were; null if never.</param>
/// <param name="Limit">The per-minute limit of <paramref name="Quota"/>.</param>
public readonly record struct RateDecision(bool IsAdmitted, string? Quota, string? Message, TimeSpan? RetryAfter, long Limit = 0)
{
    public static RateDecision Admitted { get; } = new(true, null, null, null);
}
