using Scheduler.Abstractions.Jobs;
using Scheduler.Silo.Streaming;

namespace Scheduler.Tests.Silo.Streaming;

/// <summary>Events of one job ("job") to post to a <see cref="JobSubscription"/>, and what it delivered.</summary>
internal static class SubscriptionEvents
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);

    public static JobEventRecord Tokens(int first, string text, int count = 1) =>
        new("job", JobEventKind.Tokens, T0, first, text, count);

    public static JobEventRecord Completed(int tokens) =>
        new("job", JobEventKind.Completed, T0, Usage: new JobUsage(1, tokens, 0, 0, 0, 0), FinishReason: "length");

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
