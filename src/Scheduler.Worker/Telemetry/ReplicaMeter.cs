using System.Diagnostics.Metrics;
using Scheduler.Protos.V1;

namespace Scheduler.Worker.Telemetry;

/// <summary>
/// One replica's share of the <see cref="WorkerTelemetry"/> instruments, fed by its <c>RunningBatch</c> with what it
/// already counts: each admitted sequence's prompt and cached prompt tokens, and each published step report (its tokens,
/// duration and capacity). The gauges read the last step's capacity, kept here since the batch itself is only read
/// under its engine's lock and a scrape comes from another thread; so do the decode counters, the running totals a
/// llama.cpp replica's capacity carries (<c>LlamaEngineStats</c>), zero for an engine that does not count decode calls.
/// </summary>
internal sealed class ReplicaMeter(
    KeyValuePair<string, object?>[] tags,
    long kvCapacity,
    Counter<long> promptTokens,
    Counter<long> prefixCacheHitTokens,
    Counter<long> generatedTokens,
    Histogram<double> stepDuration)
{
    private long _running;
    private long _queued;
    private long _kvUsed;
    private long _decodeCalls;
    private long _decodeSequences;
    private long _decodeTokens;

    public KeyValuePair<string, object?>[] Tags => tags;

    public long KvCapacity => kvCapacity;

    public long Running => Interlocked.Read(ref _running);

    public long Queued => Interlocked.Read(ref _queued);

    public long KvUsed => Interlocked.Read(ref _kvUsed);

    public long DecodeCalls => Interlocked.Read(ref _decodeCalls);

    public long DecodeSequences => Interlocked.Read(ref _decodeSequences);

    public long DecodeTokens => Interlocked.Read(ref _decodeTokens);

    /// <summary>A sequence entered the batch: its prompt is to be prefilled, but for the tokens found in the prefix cache.</summary>
    public void Admitted(int prompt, int cachedPrompt)
    {
        promptTokens.Add(prompt, tags);
        if (cachedPrompt > 0)
        {
            prefixCacheHitTokens.Add(cachedPrompt, tags);
        }
    }

    /// <summary>A step's report went out: its tokens, its duration, and the capacity it carries.</summary>
    public void Stepped(StepReport report, int queued)
    {
        var tokens = 0L;
        foreach (var t in report.Tokens)
        {
            tokens += t.TokenCount;
        }

        if (tokens > 0)
        {
            generatedTokens.Add(tokens, tags);
        }

        stepDuration.Record(report.StepMs / 1000, tags);
        Set(report.Capacity.RunningSequences, queued, report.Capacity.KvTokensUsed);
        Interlocked.Exchange(ref _decodeCalls, report.Capacity.DecodeCalls);
        Interlocked.Exchange(ref _decodeSequences, report.Capacity.DecodeSequences);
        Interlocked.Exchange(ref _decodeTokens, report.Capacity.DecodeTokens);
    }

    /// <summary>Every sequence left without a report (the execution stream closed). The decode counters stay: the
    /// engine's totals go on from where they are.</summary>
    public void Dropped() => Set(0, 0, 0);

    private void Set(long running, long queued, long kvUsed)
    {
        Interlocked.Exchange(ref _running, running);
        Interlocked.Exchange(ref _queued, queued);
        Interlocked.Exchange(ref _kvUsed, kvUsed);
    }
}
