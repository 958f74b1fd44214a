using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Policies;
using Scheduler.Silo.Streaming;
using static Scheduler.Tests.Silo.Streaming.SubscriptionEvents;

namespace Scheduler.Tests.Silo.Streaming;

public sealed class StreamBackfillTests
{
    private readonly FakeTimeProvider _time = new(T0);

    private static JobSnapshot Record(JobStatus status, string output = "", int[]? tokenEnds = null) =>
        new("job", "tenant", "model", status, 1, 8, JobPriority.Standard, T0, null,
            status == JobStatus.Completed ? new JobUsage(1, tokenEnds?.Length ?? 0, 0, 0, 0, 0) : null,
            output, null, status == JobStatus.Completed ? "length" : null, tokenEnds);

    [Fact]
    public async Task WatchAsync_EndArrivedWithoutAToken_CompletesTheStreamFromTheRecord()
    {
        var subscription = new JobSubscription("job", fromToken: 0);
        subscription.Post(Tokens(0, "a"));
        subscription.Post(Tokens(2, "c"));
        subscription.Post(Completed(3));
        var job = new RecordOnlyJob(Record(JobStatus.Completed, "abc", [1, 2, 3]));

        var watch = new StreamBackfill(_time, NullLogger<StreamBackfill>.Instance).WatchAsync(subscription, () => job, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(1));
        await watch.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["a", "b", "c"], Drain(subscription).Where(e => e.Kind == JobEventKind.Tokens).Select(e => e.Text));
        Assert.True(subscription.Events.Completion.IsCompleted);
        Assert.Equal(1, job.Reads);
    }

    [Fact]
    public async Task WatchAsync_QuietStream_AsksTheRecordEveryInterval_AndEndsItOnceTheJobFinished()
    {
        var subscription = AdmittedSubscription();
        subscription.Post(Tokens(0, "a"));
        var job = new RecordOnlyJob(Record(JobStatus.Running));
        var watch = new StreamBackfill(_time, NullLogger<StreamBackfill>.Instance).WatchAsync(subscription, () => job, CancellationToken.None);

        await AdvanceSeconds(5);
        Assert.Equal(1, job.Reads);
        Assert.False(watch.IsCompleted);

        // The job ended, but its last token and its end never reached this silo.
        job.Snapshot = Record(JobStatus.Completed, "ab", [1, 2]);
        await AdvanceSeconds(5);
        await watch.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([JobEventKind.Tokens, JobEventKind.Tokens, JobEventKind.Completed], Drain(subscription).Select(e => e.Kind));
        Assert.Equal(2, job.Reads);
    }

    [Fact]
    public async Task WatchAsync_RecordReadCancelledByTheRuntime_NotByTheWatch_AsksAgainNextInterval_AndEndsTheStream()
    {
        // Orleans cancels a call it cannot address while the cluster changes (its directory lookup throws
        // OperationCanceledException): that is the record's silo failing, not the stream ending, so the watch goes on.
        // (Seen in the two-silos-lost fault test: the watch ended there, and a client waited for a lost end for minutes.)
        var subscription = AdmittedSubscription();
        subscription.Post(Tokens(0, "a"));
        var job = new RecordOnlyJob(Record(JobStatus.Completed, "ab", [1, 2])) { FailNextRead = new OperationCanceledException("directory lookup cancelled") };
        var watch = new StreamBackfill(_time, NullLogger<StreamBackfill>.Instance).WatchAsync(subscription, () => job, CancellationToken.None);

        await AdvanceSeconds(5);
        Assert.Equal(1, job.Reads);
        Assert.False(watch.IsCompleted, "the watch must survive a read the runtime cancelled");

        await AdvanceSeconds(5);
        await watch.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([JobEventKind.Tokens, JobEventKind.Tokens, JobEventKind.Completed], Drain(subscription).Select(e => e.Kind));
        Assert.Equal(2, job.Reads);
    }

    [Fact]
    public async Task WatchAsync_StreamKeepsReceivingEvents_NeverAsksTheRecord_NorMakesItsGrainReference()
    {
        var subscription = AdmittedSubscription();
        var job = new RecordOnlyJob(Record(JobStatus.Running));
        using var stop = new CancellationTokenSource();
        var references = 0;
        var watch = new StreamBackfill(_time, NullLogger<StreamBackfill>.Instance).WatchAsync(subscription, () => { references++; return job; }, stop.Token);

        for (var token = 0; token < 20; token++)
        {
            subscription.Post(Tokens(token, "x"));
            await AdvanceSeconds(1);
        }

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watch);
        Assert.Equal((0, 0), (job.Reads, references));
    }

    [Fact]
    public async Task WatchAsync_TokensWithoutTheirAdmission_AreReleasedBehindTheRecordsPlacementAfterATick()
    {
        var subscription = new JobSubscription("job", fromToken: 0);
        subscription.Post(Tokens(0, "a"));
        Assert.True(subscription.WaitingForAdmission);
        var placement = new JobPlacement("r1", "a1", "H100", "n1", 0);
        var job = new RecordOnlyJob(Record(JobStatus.Running) with { Placement = placement });
        using var stop = new CancellationTokenSource();
        var watch = new StreamBackfill(_time, NullLogger<StreamBackfill>.Instance).WatchAsync(subscription, () => job, stop.Token);

        await AdvanceSeconds(1);

        var events = Drain(subscription);
        Assert.Equal([JobEventKind.Admitted, JobEventKind.Tokens], events.Select(e => e.Kind));
        Assert.Equal(placement, events[0].Placement);
        Assert.False(subscription.WaitingForAdmission);
        Assert.Equal(1, job.Reads);

        // The late admission itself, when it comes, is the same one: not delivered twice.
        subscription.Post(new JobEventRecord("job", JobEventKind.Admitted, T0, Placement: placement));
        Assert.Empty(Drain(subscription));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watch);
    }

    private async Task AdvanceSeconds(int seconds)
    {
        for (var i = 0; i < seconds; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));

            // Let the watch's continuation run before the clock moves on.
            await Task.Delay(10);
        }
    }

    /// <summary>A job grain that only answers <see cref="IJobGrain.Get"/>, counting the calls.</summary>
    private sealed class RecordOnlyJob(JobSnapshot snapshot) : IJobGrain
    {
        public JobSnapshot Snapshot { get; set; } = snapshot;

        public int Reads { get; private set; }

        /// <summary>Thrown by the next read instead of answering (once).</summary>
        public Exception? FailNextRead { get; set; }

        public Task<JobSnapshot?> Get()
        {
            Reads++;
            if (FailNextRead is { } failure)
            {
                FailNextRead = null;
                return Task.FromException<JobSnapshot?>(failure);
            }

            return Task.FromResult<JobSnapshot?>(Snapshot);
        }

        public Task EnsureQueued() => throw new NotSupportedException();

        public Task<JobExplanation?> Explain() => throw new NotSupportedException();

        public Task<JobSnapshot?> Cancel() => throw new NotSupportedException();

        public Task<WatchResult> Watch(IJobEventSink sink, int fromToken) => throw new NotSupportedException();
    }
}
