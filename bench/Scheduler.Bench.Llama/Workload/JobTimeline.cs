using System.Diagnostics;

namespace Scheduler.Bench.Llama.Workload;

/// <summary>When one job's tokens arrived, in <see cref="Stopwatch"/> ticks, counted from the moment the whole
/// workload was submitted.</summary>
internal sealed class JobTimeline(BenchJob job, long submitted)
{
    public BenchJob Job => job;

    public long FirstToken { get; private set; }

    public long LastToken { get; private set; }

    public int Tokens { get; private set; }

    public bool Finished { get; private set; }

    public string? Error { get; private set; }

    public void Record(int tokens, long at)
    {
        if (Tokens == 0)
        {
            FirstToken = at;
        }

        Tokens += tokens;
        LastToken = at;
    }

    public void Finish(string? error = null)
    {
        Finished = true;
        Error = error;
    }

    /// <summary>Time to first token, waiting for admission included.</summary>
    public long TtftTicks => FirstToken - submitted;

    /// <summary>Mean time per output token after the first; null for a job of one token.</summary>
    public long? TpotTicks => Tokens > 1 ? (LastToken - FirstToken) / (Tokens - 1) : null;
}
