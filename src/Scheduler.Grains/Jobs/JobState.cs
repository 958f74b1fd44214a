using Scheduler.Abstractions.Jobs;

namespace Scheduler.Grains.Jobs;

[GenerateSerializer, Alias("scheduler.JobState")]
public sealed class JobState
{
    [Id(0)] public JobTicket? Ticket { get; set; }
    [Id(1)] public JobStatus Status { get; set; } = JobStatus.Queued;
    [Id(2)] public JobPlacement? Placement { get; set; }
    [Id(3)] public JobOutcome? Outcome { get; set; }

    /// <summary>Whether the outcome came from a node that ran the job (the admission message may arrive later).</summary>
    [Id(4)] public bool Ran { get; set; }
}
