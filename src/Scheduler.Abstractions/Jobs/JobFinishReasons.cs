namespace Scheduler.Abstractions.Jobs;

/// <summary>The finish reasons tenants see (<c>Job.finish_reason</c> and <c>JobCompleted.finish_reason</c> in
/// inference.proto): free text on the wire, so existing clients keep comparing the same strings.</summary>
public static class JobFinishReasons
{
    /// <summary><c>max_tokens</c> reached.</summary>
    public const string Length = "length";

    /// <summary>The stop text appeared in the output.</summary>
    public const string Stop = "stop";

    /// <summary>Cancelled by its tenant.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>Expired in the queue: it could no longer finish by its deadline.</summary>
    public const string Deadline = "deadline";

    /// <summary>The job failed (its error says why).</summary>
    public const string Error = "error";
}
