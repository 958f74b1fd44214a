namespace Scheduler.Policies.Admission;

/// <summary>
/// The limits a metered upstream enforces — requests and tokens per minute — kept on this side, so a request is sent
/// only when the provider will take it, plus a hold after the provider answered 429 anyway. Each limit is a token
/// bucket that holds a minute's worth and refills continuously. A reservation is debited at once, even into debt, and
/// told how long to wait until the debt is paid: callers are served in the order they reserved. Thread-safe.
/// The worker's upstream engine holds one per metered replica; the simulator models a metered endpoint's limits with
/// the same class on its virtual clock, so both queue a request for the same time.
/// </summary>
public sealed class UpstreamLimiter
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly Bucket? _requests;
    private readonly Bucket? _tokens;
    private DateTimeOffset _heldUntil = DateTimeOffset.MinValue;

    /// <param name="requestsPerMinute">Requests per minute; 0 for no limit.</param>
    /// <param name="tokensPerMinute">Prompt plus output tokens per minute; 0 for no limit.</param>
    /// <param name="time">The clock.</param>
    public UpstreamLimiter(int requestsPerMinute, int tokensPerMinute, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(requestsPerMinute);
        ArgumentOutOfRangeException.ThrowIfNegative(tokensPerMinute);
        _time = time;
        var now = time.GetUtcNow();
        _requests = requestsPerMinute > 0 ? new Bucket(requestsPerMinute, now) : null;
        _tokens = tokensPerMinute > 0 ? new Bucket(tokensPerMinute, now) : null;
    }

    /// <summary>A limiter for the given limits, or null when neither is set (there is nothing to wait for).</summary>
    public static UpstreamLimiter? IfLimited(int requestsPerMinute, int tokensPerMinute, TimeProvider time) =>
        requestsPerMinute > 0 || tokensPerMinute > 0 ? new UpstreamLimiter(requestsPerMinute, tokensPerMinute, time) : null;

    /// <summary>The most tokens one request may reserve: a bigger one could never be sent. Null without a token limit.</summary>
    public int? MaxTokensPerRequest => TokensPerMinute > 0 ? TokensPerMinute : null;

    /// <summary>The requests-per-minute limit; 0 for none.</summary>
    public int RequestsPerMinute => _requests is { } bucket ? (int)bucket.PerMinute : 0;

    /// <summary>The tokens-per-minute limit; 0 for none.</summary>
    public int TokensPerMinute => _tokens is { } bucket ? (int)bucket.PerMinute : 0;

    /// <summary>What the limits allow reserved now without waiting: requests and tokens, each negative while earlier
    /// reservations still owe, 0 for a limit not set.</summary>
    public (double Requests, double Tokens) Available()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            return (_requests?.Level(now) ?? 0, _tokens?.Level(now) ?? 0);
        }
    }

    /// <summary>Takes one request and <paramref name="tokens"/> tokens; returns how long to wait before sending
    /// (zero when there is room now). Undo it with <see cref="Refund"/> if the request is not sent.</summary>
    public TimeSpan Reserve(int tokens) => Wait(tokens, reserve: true);

    /// <summary>How long a request of <paramref name="tokens"/> tokens reserved now would wait, without reserving it.</summary>
    public TimeSpan WaitFor(int tokens) => Wait(tokens, reserve: false);

    /// <summary>Gives back <paramref name="tokens"/> reserved but not used (the upstream's usage was less than
    /// reserved), and the request too when <paramref name="request"/> was never sent.</summary>
    public void Refund(int tokens, bool request)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (request)
            {
                _requests?.Give(1, now);
            }

            _tokens?.Give(tokens, now);
        }
    }

    /// <summary>Sends nothing before <paramref name="until"/> (the upstream said 429 and when to retry).</summary>
    public void HoldUntil(DateTimeOffset until)
    {
        lock (_lock)
        {
            if (until > _heldUntil)
            {
                _heldUntil = until;
            }
        }
    }

    /// <summary>How long the hold of <see cref="HoldUntil"/> still lasts; zero when none.</summary>
    public TimeSpan HeldFor()
    {
        lock (_lock)
        {
            return Max(TimeSpan.Zero, _heldUntil - _time.GetUtcNow());
        }
    }

    // The wait for one request and its tokens: the stricter limit's, or the hold's; taken from the buckets when reserving.
    private TimeSpan Wait(int tokens, bool reserve)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var wait = Max(_requests?.WaitFor(1, now) ?? TimeSpan.Zero, _tokens?.WaitFor(tokens, now) ?? TimeSpan.Zero);
            if (reserve)
            {
                _requests?.Take(1);
                _tokens?.Take(tokens);
            }

            return Max(wait, _heldUntil - now);
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>A minute's worth of capacity, refilled at a constant rate; the level goes negative to queue callers.</summary>
    private sealed class Bucket(double perMinute, DateTimeOffset now)
    {
        private double _level = perMinute;
        private DateTimeOffset _at = now;

        public double PerMinute { get; } = perMinute;

        // Debits right after WaitFor refilled to now: the level goes negative to queue callers.
        public void Take(double amount) => _level -= amount;

        public double Level(DateTimeOffset now)
        {
            Refill(now);
            return _level;
        }

        public TimeSpan WaitFor(double amount, DateTimeOffset now)
        {
            Refill(now);
            var level = _level - amount;
            return level >= 0 ? TimeSpan.Zero : TimeSpan.FromMinutes(-level / PerMinute);
        }

        public void Give(double amount, DateTimeOffset now)
        {
            Refill(now);
            _level = Math.Min(PerMinute, _level + amount);
        }

        private void Refill(DateTimeOffset now)
        {
            if (now > _at)
            {
                _level = Math.Min(PerMinute, _level + ((now - _at).TotalMinutes * PerMinute));
                _at = now;
            }
        }
    }
}
