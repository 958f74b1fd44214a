using Scheduler.Abstractions.Jobs;
using Scheduler.Silo.Streaming;

namespace Scheduler.Silo.Api;

/// <summary>A job <see cref="JobSubmissions.Submit"/> accepted; disposing it stops listening to its events (the job
/// itself runs on).</summary>
internal sealed class SubmittedJob(
    JobEventHub hub, JobSnapshot job, bool duplicate, int queuePosition, JobSubscription? subscription, IReadOnlyList<KeyValuePair<string, string>> rateLimits)
    : IDisposable
{
    public JobSnapshot Job { get; } = job;

    /// <summary>The idempotency key named an earlier job: <see cref="Job"/> is that one.</summary>
    public bool Duplicate { get; } = duplicate;

    public int QueuePosition { get; } = queuePosition;

    public JobSubscription? Subscription { get; } = subscription;

    /// <summary>Where the tenant stood against its per-minute quotas once the job was accepted, as OpenAI's x-ratelimit
    /// headers (<see cref="RateLimitHeaders"/>); none for a tenant without such quotas, and maybe none for a duplicate
    /// the idempotency key found.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> RateLimits { get; } = rateLimits;

    /// <summary>Another event of the job is already waiting to be read, and will be at once (not tokens held for a token
    /// interval): the one just read can be written without flushing, since the next write follows at once and flushes
    /// both (one socket write, one client wake-up).</summary>
    public bool MoreWaiting => Subscription?.Events.ReadyWaiting == true;

    public void Dispose() => hub.UnsubscribeIfAny(Subscription);
}
