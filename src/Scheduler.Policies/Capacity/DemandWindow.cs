namespace Scheduler.Policies.Capacity;

/// <summary>
/// A model's recent demand for the <see cref="CapacityPolicy"/>: the prompt and output tokens submitted, and how many
/// first tokens met their objective. Rates and attainment are read over the last <paramref name="window"/>. The
/// burst rate says what prefill the bursts of the last <paramref name="peakLookback"/> needed: the lowest prompt rate
/// at which every one of their prompts, prefilled in arrival order, would have met its TTFT objective. A burst may
/// queue as long as its first tokens still come in time, so it needs its tokens over its span plus the objective,
/// not at once; and capacity asked for when a burst starts comes a cold start too late, so the capacity the recent
/// bursts needed is what the next one gets. Rates and attainment are kept in one-second buckets and prompts in
/// 100 ms slices, so memory stays bounded by the lookback however many jobs arrive. The placement grain and the
/// simulator's autoscaled pools both read demand through this class.
/// </summary>
/// <param name="window">The window mean rates and attainment are measured over.</param>
/// <param name="peakLookback">How far back a burst still counts: the hold on capacity sized for it.</param>
public sealed class DemandWindow(TimeSpan window, TimeSpan peakLookback)
{
    // Prompts arriving within one slice are taken to arrive at its start: a slice's burst is judged at most this
    // much too early, which is small against TTFT objectives of half a second and more.
    private const long SliceMs = 100;

    private readonly Queue<Bucket> _buckets = new();
    private readonly Queue<Slice> _slices = new();
    private Bucket? _newest;
    private Slice? _newestSlice;

    /// <summary>The window mean rates and attainment are measured over.</summary>
    public TimeSpan Window => window;

    /// <summary>A job was submitted with <paramref name="promptTokens"/> and <paramref name="outputTokens"/> asked,
    /// its first token due within <paramref name="ttftObjective"/> (zero or less: none, then its prompt only delays
    /// the others').</summary>
    public void Arrived(DateTimeOffset at, int promptTokens, int outputTokens, TimeSpan ttftObjective)
    {
        var bucket = At(at);
        bucket.Jobs++;
        bucket.PromptTokens += promptTokens;
        bucket.OutputTokens += outputTokens;

        var slice = at.ToUnixTimeMilliseconds() / SliceMs;
        if (_newestSlice is null || _newestSlice.Index != slice)
        {
            _newestSlice = new Slice(slice);
            _slices.Enqueue(_newestSlice);
        }

        _newestSlice.PromptTokens += promptTokens;
        _newestSlice.ObjectiveSeconds = Math.Min(_newestSlice.ObjectiveSeconds, ttftObjective > TimeSpan.Zero ? ttftObjective.TotalSeconds : double.PositiveInfinity);
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
            Math.Max(prompt / seconds, BurstPromptRate()));
    }

    // The lowest rate at which a prefill queue, fed the lookback's prompts in arrival order, finishes each slice's
    // prompts within the slice's tightest objective: found by bisection, since whether a rate keeps every objective
    // only gets truer as the rate grows. Slices with no objective bound nothing; their tokens still delay the rest.
    private double BurstPromptRate()
    {
        double tokens = 0, tightest = double.PositiveInfinity;
        foreach (var s in _slices)
        {
            tokens += s.PromptTokens;
            tightest = Math.Min(tightest, s.ObjectiveSeconds);
        }

        if (tokens <= 0 || double.IsPositiveInfinity(tightest))
        {
            return 0;
        }

        // Every token arriving at once, due within the tightest objective, is met at tokens ÷ tightest.
        double low = 0, high = tokens / tightest;
        while (high - low > high * 0.001)
        {
            var rate = (low + high) / 2;
            if (KeepsEveryObjective(rate))
            {
                high = rate;
            }
            else
            {
                low = rate;
            }
        }

        return high;
    }

    private bool KeepsEveryObjective(double rate)
    {
        double backlog = 0;
        long previous = long.MinValue;
        foreach (var s in _slices)
        {
            backlog = previous == long.MinValue ? 0 : Math.Max(0, backlog - (rate * (s.Index - previous) * SliceMs / 1000.0));
            backlog += s.PromptTokens;
            previous = s.Index;
            if (backlog / rate > s.ObjectiveSeconds)
            {
                return false;
            }
        }

        return true;
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
        // A bucket counts while any part of its second is inside the longer of the window and the lookback; a slice
        // while it is inside the lookback.
        var oldest = (now - (window > peakLookback ? window : peakLookback)).ToUnixTimeSeconds();
        while (_buckets.TryPeek(out var first) && first.Second < oldest)
        {
            _buckets.Dequeue();
        }

        var oldestSlice = (now - peakLookback).ToUnixTimeMilliseconds() / SliceMs;
        while (_slices.TryPeek(out var first) && first.Index < oldestSlice)
        {
            _slices.Dequeue();
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

    private sealed class Slice(long index)
    {
        public long Index => index;

        public long PromptTokens { get; set; }

        public double ObjectiveSeconds { get; set; } = double.PositiveInfinity;
    }
}
