using System.Diagnostics;

namespace Scheduler.Worker.Telemetry;

/// <summary>
/// Owns the worker's <see cref="ActivitySource"/>: a sequence's "prefill" and "decode" spans, children of the context
/// the scheduler sent with it (<c>SequenceSpec.traceparent</c>, its "run job" span), so they join the job's trace.
/// Static, as an ActivitySource is meant to be: every engine of the process shares it.
/// </summary>
internal static class WorkerTelemetry
{
    public const string Name = "Scheduler.Worker";

    public const string PrefillSpan = "prefill";
    public const string DecodeSpan = "decode";

    public const string JobId = "scheduler.job.id";
    public const string ReplicaId = "scheduler.replica.id";
    public const string OutputTokens = "gen_ai.usage.output_tokens";
    public const string FinishReason = "gen_ai.response.finish_reason";

    public static ActivitySource Source { get; } = new(Name);

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
}
