namespace Scheduler.Policies.Capacity;

/// <summary>
/// A model's recent demand for the <see cref="CapacityPolicy"/>: the prompt and output tokens submitted, and how many
/// first tokens met their objective. Rates and attainment are read over the last <paramref name="window"/>; the burst
/// peak (the highest prompt rate over any <paramref name="burst"/> of the last <paramref name="peakLookback"/>) says
/// what capacity a burst like the recent ones needs, since capacity asked for when a burst starts comes a cold start
/// too late. Kept in one-second buckets, so memory stays bounded by the lookback's seconds however many jobs arrive.
/// The placement grain and the simulator's autoscaled pools both read demand through this class.
/// </summary>
/// <param name="window">The window mean rates and attainment are measured over.</param>
/// <param name="peakLookback">How far back a burst still counts: the hold on capacity sized for it.</param>
/// <param name="burst">The span a burst's rate is averaged over (whole seconds, at least one).</param>
public sealed class DemandWindow(TimeSpan window, TimeSpan peakLookback, TimeSpan burst)
{
    private readonly Queue<Bucket> _buckets = new();
    private readonly long _burstSeconds = Math.Max(1, (long)Math.Round(burst.TotalSeconds));
    private Bucket? _newest;

    /// <summary>The window mean rates and attainment are measured over.</summary>
    public TimeSpan Window => window;

    /// <summary>A job was submitted with <paramref name="promptTokens"/> and <paramref name="outputTokens"/> asked.</summary>
    public void Arrived(DateTimeOffset at, int promptTokens, int outputTokens)
    {
        var bucket = At(at);
        bucket.Jobs++;
        bucket.PromptTokens += promptTokens;
        bucket.OutputTokens += outputTokens;
    }

    /// <summary>A job's first token came, within its objective or not.</summary>
    public void FirstToken(DateTimeOffset at, bool metObjective)
    {
        var bucket = At(at);
        bucket.FirstTokens++;
        bucket.FirstTokensMet += metObjective ? 1 : 0;
    }

    /// <summary>The demand at <paramref name="now"/>, with the queue's tokens as the caller counts them.</summary>
    public DemandSignal Signal(DateTimeOffset now, long queuedPromptTokens, long queuedOutputTokens, int queuedJobs)
    {
        Trim(now);
        var windowFrom = (now - window).ToUnixTimeSeconds();
        long jobs = 0, prompt = 0, output = 0, firstTokens = 0, met = 0;
        foreach (var b in _buckets.Where(b => b.Second >= windowFrom))
        {
            jobs += b.Jobs;
            prompt += b.PromptTokens;
            output += b.OutputTokens;
            firstTokens += b.FirstTokens;
            met += b.FirstTokensMet;
        }

        // The mean request sizes the decode batch a KV cache holds; with no arrivals, the queue's jobs say it.
        var meanTokens = jobs > 0 ? (double)(prompt + output) / jobs
            : queuedJobs > 0 ? (double)(queuedPromptTokens + queuedOutputTokens) / queuedJobs
            : 1;
        var seconds = window.TotalSeconds;
        return new DemandSignal(
            prompt / seconds, output / seconds, meanTokens, queuedPromptTokens, queuedOutputTokens,
            firstTokens > 0 ? (double)met / firstTokens : double.NaN,
            Math.Max(prompt / seconds, PeakPromptTokens() / (double)_burstSeconds));
    }

    // The most prompt tokens that arrived within any burst-long span of the buckets kept: a sliding sum over the
    // buckets in time order (seconds with no bucket had no arrivals).
    private long PeakPromptTokens()
    {
        long peak = 0, sum = 0;
        var span = new Queue<Bucket>();
        foreach (var b in _buckets)
        {
            span.Enqueue(b);
            sum += b.PromptTokens;
            while (span.Peek().Second <= b.Second - _burstSeconds)
            {
                sum -= span.Dequeue().PromptTokens;
            }

            peak = Math.Max(peak, sum);
        }

        return peak;
    }

    private Bucket At(DateTimeOffset at)
    {
        var second = at.ToUnixTimeSeconds();
        Trim(at);
        if (_buckets.Count == 0 || _newest is null || _newest.Second != second)
        {
            _newest = new Bucket(second);
            _buckets.Enqueue(_newest);
        }

        return _newest;
    }

    private void Trim(DateTimeOffset now)
    {
        // A bucket counts while any part of its second is inside the longer of the window and the lookback.
        var oldest = (now - (window > peakLookback ? window : peakLookback)).ToUnixTimeSeconds();
        while (_buckets.TryPeek(out var first) && first.Second < oldest)
        {
            _buckets.Dequeue();
        }
    }

    private sealed class Bucket(long second)
    {
        public long Second => second;

        public long Jobs { get; set; }

        public long PromptTokens { get; set; }

        public long OutputTokens { get; set; }

        public long FirstTokens { get; set; }

        public long FirstTokensMet { get; set; }
    }
}
