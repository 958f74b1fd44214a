namespace Scheduler.Abstractions.Jobs;

/// <summary>One job's record, as its owner and the admin API see it. Never on a job's path: it activates only when
/// someone asks for the job. Until the job settles its journal entry and its placement describe it; once settled, the
/// journal's settled record does (written by whoever ended the job: its node link, its placement or a cancellation).</summary>
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>The job as its owner sees it; null if it does not exist. Interleaves: it only reads, and a lookup must
    /// not wait behind a cancellation waiting on the job's placement.</summary>
    [AlwaysInterleave]
    Task<JobSnapshot?> Get();

    /// <summary>Puts an unfinished job (back) in the journal and its placement's queue; a no-op for a job either
    /// already holds, or one that settled. A resubmission with the job's idempotency key calls it, in case the first
    /// attempt failed between journaling the job and queuing it.</summary>
    Task EnsureQueued();

    /// <summary>The job with its placement's trace: as it stands while the job is queued or running, as it was when the
    /// job settled otherwise; null if the job does not exist.</summary>
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
