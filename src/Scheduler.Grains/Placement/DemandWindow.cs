using Scheduler.Policies.Capacity;

namespace Scheduler.Grains.Placement;

/// <summary>
/// A model's recent demand for the <see cref="CapacityPolicy"/>: the prompt and output tokens submitted, and how many
/// first tokens met their objective, over the last <paramref name="window"/>. Kept in one-second buckets, so memory
/// stays bounded by the window's seconds however many jobs arrive.
/// </summary>
internal sealed class DemandWindow(TimeSpan window)
{
    private readonly Queue<Bucket> _buckets = new();
    private Bucket? _newest;

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
        long jobs = 0, prompt = 0, output = 0, firstTokens = 0, met = 0;
        foreach (var b in _buckets)
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
            firstTokens > 0 ? (double)met / firstTokens : double.NaN);
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
        // A bucket counts while any part of its second is inside the window.
        var oldest = (now - window).ToUnixTimeSeconds();
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
