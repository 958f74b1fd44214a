namespace Scheduler.Abstractions.Jobs;

/// <summary>One job's record: what was asked, where it ran, how it ended. Not on the token path.</summary>
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>Records a new job. Idempotent for the same ticket.</summary>
    Task Create(JobTicket ticket);

    /// <summary>The job as its owner sees it; null if it does not exist.</summary>
    Task<JobSnapshot?> Get();

    [OneWay]
    Task OnAdmitted(JobPlacement placement);

    /// <summary>Records how the job ended and tells the tenant; later outcomes are ignored.</summary>
    Task Finish(JobOutcome outcome);

    /// <summary>Cancels a queued or running job. Returns the job after the request.</summary>
    Task<JobSnapshot?> Cancel();

    /// <summary>Attaches a watcher. Returns the snapshot; if it is terminal, the caller replays it itself.</summary>
    Task<JobSnapshot?> Watch(IJobEventSink sink, int fromToken);
}
