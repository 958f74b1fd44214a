using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Jobs;

[GenerateSerializer, Alias("scheduler.JobState")]
public sealed class JobState
{
    [Id(0)] public JobTicket? Ticket { get; set; }
    [Id(1)] public JobStatus Status { get; set; } = JobStatus.Queued;
    [Id(2)] public JobPlacement? Placement { get; set; }
    [Id(3)] public JobOutcome? Outcome { get; set; }

    // Id 4 held whether the job ran, for the tenant's counters; the tenant tracks its jobs by id now. Not reused.

    /// <summary>Cancellation was asked for while the job ran; its node has not confirmed yet.</summary>
    [Id(5)] public bool CancelRequested { get; set; }

    /// <summary>How many times an engine failed the job and handed it back.</summary>
    [Id(6)] public int HandBacks { get; set; }

    /// <summary>The last hand-back's reason (an upstream's message).</summary>
    [Id(7)] public string? LastHandBackError { get; set; }

    /// <summary>The placement's trace of the job as of its last admission or expiry (a short ring), to explain it.</summary>
    [Id(8)] public JobTraceEvent[]? Trace { get; set; }
}
