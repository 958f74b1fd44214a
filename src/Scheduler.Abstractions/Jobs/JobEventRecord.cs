namespace Scheduler.Abstractions.Jobs;

public enum JobEventKind
{
    Queued = 1,
    Admitted = 2,
    Tokens = 3,
    Completed = 4,
    Failed = 5,
    Cancelled = 6,

    /// <summary>The job expired in the queue (deadline exceeded) and never ran.</summary>
    Expired = 7,
}

/// <summary>
/// One event of a job, as it travels from where it happens (node connection, placement) to the silos that
/// hold the job's client streams. Token events carry their index so receivers drop repeats and reorder.
/// </summary>
[GenerateSerializer, Immutable, Alias("scheduler.JobEventRecord")]
public sealed record JobEventRecord(
    [property: Id(0)] string JobId,
    [property: Id(1)] JobEventKind Kind,
    [property: Id(2)] DateTimeOffset At,
    [property: Id(3)] int FirstTokenIndex = 0,
    [property: Id(4)] string? Text = null,
    [property: Id(5)] int TokenCount = 0,
    [property: Id(6)] JobPlacement? Placement = null,
    [property: Id(7)] JobUsage? Usage = null,
    [property: Id(8)] string? FinishReason = null,
    [property: Id(9)] string? Error = null,
    [property: Id(10)] int QueuePosition = 0)
{
    public bool IsTerminal => Kind is JobEventKind.Completed or JobEventKind.Failed or JobEventKind.Cancelled or JobEventKind.Expired;

    /// <summary>The event that ends a job's stream, for a job that ended with <paramref name="status"/>.</summary>
    public static JobEventRecord Terminal(string jobId, JobStatus status, DateTimeOffset at, JobUsage? usage, string? finishReason, string? error) => status switch
    {
        JobStatus.Completed => new(jobId, JobEventKind.Completed, at, Usage: usage, FinishReason: finishReason),
        JobStatus.Cancelled => new(jobId, JobEventKind.Cancelled, at, Usage: usage, FinishReason: JobFinishReasons.Cancelled),
        JobStatus.Expired => new(jobId, JobEventKind.Expired, at, Error: error),
        _ => new(jobId, JobEventKind.Failed, at, Error: error),
    };
}
