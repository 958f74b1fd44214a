using Scheduler.Abstractions.Jobs;
using Scheduler.Silo.Streaming;

namespace Scheduler.Silo.Api;

/// <summary>A job <see cref="JobSubmissions.Submit"/> accepted; disposing it stops listening to its events (the job
/// itself runs on).</summary>
internal sealed class SubmittedJob(JobEventHub hub, JobSnapshot job, bool duplicate, int queuePosition, JobSubscription? subscription) : IDisposable
{
    public JobSnapshot Job { get; } = job;

    /// <summary>The idempotency key named an earlier job: <see cref="Job"/> is that one.</summary>
    public bool Duplicate { get; } = duplicate;

    public int QueuePosition { get; } = queuePosition;

    public JobSubscription? Subscription { get; } = subscription;

    /// <summary>Another event of the job is already waiting to be read: the one just read can be written without
    /// flushing, since the next write follows at once and flushes both (one socket write, one client wake-up).</summary>
    public bool MoreWaiting => Subscription?.Events.TryPeek(out _) == true;

    public void Dispose() => hub.UnsubscribeIfAny(Subscription);
}
