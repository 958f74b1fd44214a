using System.Diagnostics;
using System.Diagnostics.Metrics;
using Scheduler.Protos.Tls;

namespace Scheduler.Worker.Telemetry;

/// <summary>
/// Owns the worker's telemetry. Its <see cref="ActivitySource"/>: a sequence's "prefill" and "decode" spans, children of
/// the context the scheduler sent with it (<c>SequenceSpec.traceparent</c>, its "run job" span), so they join the job's
/// trace; static, as an ActivitySource is meant to be: every engine of the process shares it. Its <see cref="Meter"/>,
/// one per node (from the host's <see cref="IMeterFactory"/>), instruments created once: the engines' own view of
/// their replicas (<see cref="ReplicaMeter"/>) and when the certificate the node serves expires, served on /metrics.
/// </summary>
internal sealed class WorkerTelemetry : IDisposable
{
    public const string Name = "Scheduler.Worker";

    public const string PrefillSpan = "prefill";
    public const string DecodeSpan = "decode";

    public const string JobId = "scheduler.job.id";
    public const string ReplicaId = "scheduler.replica.id";
    public const string Model = "gen_ai.request.model";
    public const string OutputTokens = "gen_ai.usage.output_tokens";
    public const string FinishReason = "gen_ai.response.finish_reason";

    public const string RunningSequences = "scheduler.engine.running_sequences";
    public const string QueuedSequences = "scheduler.engine.queued_sequences";
    public const string KvTokensUsed = "scheduler.engine.kv_tokens_used";
    public const string KvTokensCapacity = "scheduler.engine.kv_tokens_capacity";
    public const string PromptTokens = "scheduler.engine.prompt_tokens";
    public const string PrefixCacheHitTokens = "scheduler.engine.prefix_cache_hit_tokens";
    public const string GeneratedTokens = "scheduler.engine.generated_tokens";
    public const string StepDuration = "scheduler.engine.step.duration";
    public const string DecodeCalls = "scheduler.engine.decode_calls";
    public const string DecodeSequences = "scheduler.engine.decode_sequences";
    public const string DecodeTokens = "scheduler.engine.decode_tokens";

    /// <summary>The silo's name for its own certificate's expiry, so one alert covers silos and workers.</summary>
    public const string TlsCertificateExpiry = "scheduler.tls.certificate.expiry";

    // A simulated instant step takes microseconds, a llama.cpp step on a CPU seconds.
    private static readonly double[] StepBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Lock _registering = new();
    private readonly Counter<long> _promptTokens;
    private readonly Counter<long> _prefixCacheHitTokens;
    private readonly Counter<long> _generatedTokens;
    private readonly Histogram<double> _stepDuration;
    private ReplicaMeter[] _replicas = [];

    // certificate: null when the node serves cleartext, and then no expiry gauge.
    public WorkerTelemetry(IMeterFactory meters, ServerCertificateReloader? certificate = null)
    {
        Meter = meters.Create(Name);
        _promptTokens = Meter.CreateCounter<long>(PromptTokens, "{token}", "Prompt tokens of the sequences the replica admitted (a resumed one again).");
        _prefixCacheHitTokens = Meter.CreateCounter<long>(PrefixCacheHitTokens, "{token}", "Of those prompt tokens, the ones found in the replica's prefix cache and not prefilled.");
        _generatedTokens = Meter.CreateCounter<long>(GeneratedTokens, "{token}", "Output tokens the replica generated.");
        _stepDuration = Meter.CreateHistogram(StepDuration, "s", "Duration of one engine step (one batched forward pass).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StepBuckets });
        Meter.CreateObservableGauge(RunningSequences, () => Read(r => r.Running), "{sequence}", "Sequences running on the replica, as of its last step.");
        Meter.CreateObservableGauge(QueuedSequences, () => Read(r => r.Queued), "{sequence}", "Admissions the replica holds until a slot frees (its queue ahead).");
        Meter.CreateObservableGauge(KvTokensUsed, () => Read(r => r.KvUsed), "{token}", "KV-cache tokens the replica's running sequences reserve (prompt + max output each).");
        Meter.CreateObservableGauge(KvTokensCapacity, () => Read(r => r.KvCapacity), "{token}", "The replica's KV cache, in tokens.");

        // Only of replicas whose engine counts its decode calls (llama.cpp): a series of zeros would say it never decoded.
        Meter.CreateObservableCounter(DecodeCalls, () => Read(r => r.DecodeCalls, r => r.DecodeCalls > 0), "{call}", "Decode calls the replica's engine made, one per batched forward pass with tokens.");
        Meter.CreateObservableCounter(DecodeSequences, () => Read(r => r.DecodeSequences, r => r.DecodeCalls > 0), "{sequence}",
            "Sequences summed over the engine's decode calls (each once per call it is in); per decode call, the mean batch size.");
        Meter.CreateObservableCounter(DecodeTokens, () => Read(r => r.DecodeTokens, r => r.DecodeCalls > 0), "{token}", "Tokens summed over the engine's decode calls (prompt chunks and generated tokens).");
        if (certificate is not null)
        {
            // As the silo's: a time rather than the seconds left, moving only when a renewed certificate is served.
            Meter.CreateObservableGauge(TlsCertificateExpiry, () => new DateTimeOffset(certificate.Current.Leaf.NotAfter).ToUnixTimeSeconds(),
                "s", "When the certificate the node serves expires, in seconds since the Unix epoch.");
        }
    }

    public static ActivitySource Source { get; } = new(Name);

    /// <summary>This node's meter: what its /metrics exports (other nodes hosted in the same process have their own).</summary>
    public Meter Meter { get; }

    /// <summary>The instruments of one replica, labelled with its id and model; its gauges are exported from now on.</summary>
    public ReplicaMeter Replica(string replicaId, string model, long kvCapacityTokens)
    {
        var replica = new ReplicaMeter([new(ReplicaId, replicaId), new(Model, model)], kvCapacityTokens, _promptTokens, _prefixCacheHitTokens, _generatedTokens, _stepDuration);
        lock (_registering)
        {
            _replicas = [.. _replicas, replica];
        }

        return replica;
    }

    /// <summary>Starts <paramref name="name"/> as a child of <paramref name="parent"/>; null when it is not valid W3C
    /// trace context or nobody listens. The span does not become <see cref="Activity.Current"/>: an engine's step loop
    /// runs many sequences, none of which is the loop's own work.</summary>
    public static Activity? Start(string name, string? parent, string sequenceId, string replicaId)
    {
        if (!ActivityContext.TryParse(parent, null, out var context))
        {
            return null;
        }

        var previous = Activity.Current;
        try
        {
            return Source.StartActivity(name, ActivityKind.Internal, context, [new(JobId, sequenceId), new(ReplicaId, replicaId)]);
        }
        finally
        {
            Activity.Current = previous;
        }
    }

    public void Dispose() => Meter.Dispose();

    private IEnumerable<Measurement<long>> Read(Func<ReplicaMeter, long> value, Func<ReplicaMeter, bool>? only = null) =>
        Volatile.Read(ref _replicas).Where(r => only is null || only(r)).Select(r => new Measurement<long>(value(r), r.Tags));
}
