namespace Scheduler.Silo.Telemetry;

/// <summary>
/// The bucket bounds each histogram advises its exporter to use. Without them the OpenTelemetry SDK falls back to its
/// default bounds (0, 5, 10, 25 … 10,000), which are meant for milliseconds: in seconds every first token under five
/// seconds fell into one bucket, so a p99 or an attainment could only read "within 5 s". The GenAI semantic conventions
/// give explicit bounds for their instruments; the scheduler's own are chosen alike.
/// </summary>
internal static class HistogramBuckets
{
    /// <summary><c>gen_ai.server.time_to_first_token</c>: the conventions' bounds, then 30 s and 60 s, because a first token
    /// here includes the job's wait in its queue.</summary>
    public static IReadOnlyList<double> TimeToFirstTokenSeconds { get; } =
        [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0];

    /// <summary><c>gen_ai.server.time_per_output_token</c>: the conventions' bounds, after 1 ms and 5 ms for the
    /// accelerators that decode faster than 10 ms a token at small batches.</summary>
    public static IReadOnlyList<double> TimePerOutputTokenSeconds { get; } =
        [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5];

    /// <summary><c>scheduler.job.token.usage</c>: the GenAI conventions' bounds for token usage (powers of four).</summary>
    public static IReadOnlyList<long> Tokens { get; } =
        [1, 4, 16, 64, 256, 1_024, 4_096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864];

    /// <summary><c>scheduler.job.queue_wait</c>: from a millisecond to five minutes.</summary>
    public static IReadOnlyList<double> QueueWaitSeconds { get; } =
        [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
}
