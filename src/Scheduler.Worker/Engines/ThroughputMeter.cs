namespace Scheduler.Worker.Engines;

/// <summary>Output tokens per second over a sliding time window. Not thread-safe: its engine serialises calls.</summary>
internal sealed class ThroughputMeter(TimeProvider time, TimeSpan window)
{
    private readonly Queue<(long Timestamp, int Tokens)> _samples = new();
    private long _tokensInWindow;

    /// <summary>Records <paramref name="tokens"/> produced by a step that ended now.</summary>
    public void Record(int tokens)
    {
        var now = time.GetTimestamp();
        _samples.Enqueue((now, tokens));
        _tokensInWindow += tokens;
        while (_samples.Count > 0 && time.GetElapsedTime(_samples.Peek().Timestamp, now) > window)
        {
            _tokensInWindow -= _samples.Dequeue().Tokens;
        }
    }

    /// <summary>Tokens per second from the oldest sample in the window until now; 0 until two samples span time.</summary>
    public double TokensPerSecond()
    {
        if (_samples.Count < 2)
        {
            return 0;
        }

        var (oldestTimestamp, oldestTokens) = _samples.Peek();
        var span = time.GetElapsedTime(oldestTimestamp, time.GetTimestamp());
        // The oldest sample's tokens were produced before the span starts.
        return span > TimeSpan.Zero ? (_tokensInWindow - oldestTokens) / span.TotalSeconds : 0;
    }
}
