using Scheduler.Abstractions.Jobs;
using Scheduler.Silo.Streaming;

namespace Scheduler.Tests.Silo.Streaming;

/// <summary>Events of one job ("job") to post to a <see cref="JobSubscription"/>, and what it delivered.</summary>
internal static class SubscriptionEvents
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);

    public static JobEventRecord Tokens(int first, string text, int count = 1) =>
        new("job", JobEventKind.Tokens, T0, first, text, count);

    public static JobEventRecord Admitted(string replicaId) =>
        new("job", JobEventKind.Admitted, T0, Placement: new JobPlacement(replicaId, "a-" + replicaId, "H100", "n", 0));

    public static JobEventRecord Completed(int tokens) =>
        new("job", JobEventKind.Completed, T0, Usage: new JobUsage(1, tokens, 0, 0, 0, 0), FinishReason: "length");

    /// <summary>A subscription that has delivered the job's admission (already read), as a stream whose job runs has:
    /// its tokens are delivered as they come.</summary>
    public static JobSubscription AdmittedSubscription(int fromToken = 0)
    {
        var subscription = new JobSubscription("job", fromToken);
        subscription.Post(Admitted("r0"));
        Drain(subscription);
        return subscription;
    }

    /// <summary>Every event the subscription has delivered and not yet been read.</summary>
    public static List<JobEventRecord> Drain(JobSubscription subscription)
    {
        var events = new List<JobEventRecord>();
        while (subscription.Events.TryRead(out var e))
        {
            events.Add(e);
        }

        return events;
    }
}
