namespace Scheduler.Abstractions.Jobs;

/// <summary>One job's record: what was asked, where it ran, how it ended. Not on the token path, nor made when the job is
/// accepted: until it first activates, the job's journal entry is its record.</summary>
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>The job as its owner sees it; null if it does not exist. Interleaves: a placement rebuilding after a
    /// failover reads records while a job's own call may be waiting on that placement.</summary>
    [AlwaysInterleave]
    Task<JobSnapshot?> Get();

    /// <summary>The placement admitted the job (again, after a hand-back); <paramref name="trace"/> is what it
    /// recorded so far, kept with the record to explain the job. The first placement is the one the record keeps. The
    /// ticket comes along: this notice usually activates the record, which then needs no journal read.</summary>
    [OneWay]
    Task OnAdmitted(JobTicket ticket, JobPlacement placement, JobTraceEvent[] trace);

    /// <summary>Puts an unfinished job (back) in the journal and its placement's queue; a no-op for a job either
    /// already holds. A resubmission with the job's idempotency key calls it, in case the first attempt failed
    /// between recording the job and queuing it.</summary>
    Task EnsureQueued();

    /// <summary>Records how the job ended and tells the tenant; later outcomes are ignored.</summary>
    Task Finish(JobOutcome outcome);

    /// <summary>Records that the placement ended the job while no node ran it — it expired in its queue (it could no
    /// longer make its deadline), or it failed after more hand-backs than allowed — tells the tenant, then sends
    /// <paramref name="announcement"/> to <paramref name="watchers"/>: a client that saw the end finds the record ended
    /// too. Sent by the placement, which has already removed the job.</summary>
    [OneWay]
    Task EndInQueue(JobOutcome outcome, IJobEventSink[] watchers, JobEventRecord announcement, JobTraceEvent[] trace);

    /// <summary>An engine failed the job and handed it back: it waits in its queue to resume elsewhere, or, past the
    /// placement's bound, it failed of it. Its record keeps <paramref name="error"/> and the count, for <c>GetJob</c> to
    /// show; a count lower than one it already has is ignored.</summary>
    [OneWay]
    Task OnHandedBack(int handBacks, string error);

    /// <summary>The job's record with its placement's trace as last sent (at its last admission or expiry); null if
    /// the job does not exist.</summary>
    [AlwaysInterleave]
    Task<JobExplanation?> Explain();

    /// <summary>Cancels a queued or running job. Returns the job after the request.</summary>
    Task<JobSnapshot?> Cancel();

    /// <summary>Attaches a watcher to a queued or running job. When it is not attached (the job is terminal, or
    /// finished while attaching), the caller replays the job's record itself once it is terminal.</summary>
    Task<WatchResult> Watch(IJobEventSink sink, int fromToken);
}

[GenerateSerializer, Alias("scheduler.WatchResult")]
public sealed record WatchResult(
    [property: Id(0)] JobSnapshot? Job,
    [property: Id(1)] bool Attached);
