using Scheduler.Abstractions.Jobs;
using Scheduler.Policies;
using Scheduler.Silo.Streaming;
using static Scheduler.Tests.Silo.Streaming.SubscriptionEvents;

namespace Scheduler.Tests.Silo.Streaming;

public sealed class JobSubscriptionTests
{
    [Fact]
    public void Post_DuplicateAndOutOfOrderTokens_DeliversEachOnceInOrder()
    {
        var subscription = AdmittedSubscription();
        subscription.Post(Tokens(0, " a"));
        subscription.Post(Tokens(2, " c"));
        subscription.Post(Tokens(0, " a"));
        subscription.Post(Tokens(1, " b"));
        subscription.Post(Tokens(2, " c"));

        Assert.Equal([" a", " b", " c"], Drain(subscription).Select(e => e.Text));
    }

    [Fact]
    public void Post_TextlessChunkStraddlingDeliveredTokens_IsCutToTheTokensNotYetDelivered()
    {
        // An upstream engine's tokens counted beyond its streamed chunks arrive as one chunk without text; two of its
        // tokens had reached this stream already (replayed from the record one by one).
        var subscription = AdmittedSubscription();
        subscription.Post(Tokens(0, " a"));
        subscription.Post(Tokens(1, " b"));
        subscription.Post(new JobEventRecord("job", JobEventKind.Tokens, T0, 0, "", 4));

        var chunk = Drain(subscription).Last();
        Assert.Equal((2, 2, ""), (chunk.FirstTokenIndex, chunk.TokenCount, chunk.Text));
    }

    [Fact]
    public void Post_CompletedBeforeLastToken_IsHeldUntilTheTokenArrives()
    {
        var subscription = AdmittedSubscription();
        subscription.Post(Tokens(0, " a"));
        subscription.Post(Completed(2));
        Assert.Single(Drain(subscription));
        Assert.False(subscription.Events.Completion.IsCompleted);

        subscription.Post(Tokens(1, " b"));
        var rest = Drain(subscription);
        Assert.Equal([JobEventKind.Tokens, JobEventKind.Completed], rest.Select(e => e.Kind));
        Assert.True(subscription.Events.Completion.IsCompleted);
    }

    [Fact]
    public void Post_CancelledBeforeItsLastToken_IsHeldUntilTheTokenArrives()
    {
        // A job cancelled while it ran: its node's end counts the tokens it delivered, and travels apart from them (after
        // the record is written). Passed on at once, it ended the stream short, and the late token was dropped.
        var subscription = AdmittedSubscription();
        subscription.Post(Tokens(0, " a"));
        subscription.Post(new JobEventRecord("job", JobEventKind.Cancelled, T0, Usage: new JobUsage(1, 2, 0, 0, 0, 0), FinishReason: "cancelled"));
        Assert.Single(Drain(subscription));
        Assert.True(subscription.WaitingForTokens);

        subscription.Post(Tokens(1, " b"));
        Assert.Equal([JobEventKind.Tokens, JobEventKind.Cancelled], Drain(subscription).Select(e => e.Kind));
        Assert.True(subscription.Events.Completion.IsCompleted);
    }

    [Fact]
    public void Post_CancelledWithoutUsage_EndsTheStreamAtOnce()
    {
        // Cancelled in its queue (or before its node confirmed): no count to wait for.
        var subscription = AdmittedSubscription();
        subscription.Post(new JobEventRecord("job", JobEventKind.Cancelled, T0, FinishReason: "cancelled"));

        Assert.Equal([JobEventKind.Cancelled], Drain(subscription).Select(e => e.Kind));
        Assert.True(subscription.Events.Completion.IsCompleted);
    }

    [Fact]
    public void Post_FromTokenOffset_DropsEarlierTokens()
    {
        var subscription = AdmittedSubscription(fromToken: 2);
        subscription.Post(Tokens(0, " a"));
        subscription.Post(Tokens(1, " b"));
        subscription.Post(Tokens(2, " c"));

        Assert.Equal([" c"], Drain(subscription).Select(e => e.Text));
    }

    [Fact]
    public void Post_SameAdmissionTwice_IsDeliveredOnce_ButANewPlacementIsDelivered()
    {
        var subscription = new JobSubscription("job", fromToken: 0);
        var first = new JobPlacement("r1", "a1", "H100", "n1", 0);
        subscription.Post(new JobEventRecord("job", JobEventKind.Admitted, T0, Placement: first));
        subscription.Post(new JobEventRecord("job", JobEventKind.Admitted, T0, Placement: first));
        subscription.Post(new JobEventRecord("job", JobEventKind.Admitted, T0, Placement: first with { ReplicaId = "r2" }));

        Assert.Equal(["r1", "r2"], Drain(subscription).Select(e => e.Placement!.ReplicaId));
    }

    [Fact]
    public void Post_TokensBeforeTheAdmission_AreHeldUntilItArrives()
    {
        var subscription = new JobSubscription("job", fromToken: 0);
        subscription.Post(Tokens(1, " b"));
        subscription.Post(Tokens(0, " a"));
        Assert.Empty(Drain(subscription));
        Assert.True(subscription.WaitingForAdmission);

        subscription.Post(Admitted("r1"));
        subscription.Post(Tokens(2, " c"));
        subscription.Post(Completed(3));

        var events = Drain(subscription);
        Assert.Equal([JobEventKind.Admitted, JobEventKind.Tokens, JobEventKind.Tokens, JobEventKind.Tokens, JobEventKind.Completed], events.Select(e => e.Kind));
        Assert.Equal(" a b c", string.Concat(events.Select(e => e.Text)));
        Assert.False(subscription.WaitingForAdmission);
    }

    [Fact]
    public void Post_QueuedAfterTheAdmission_IsDropped()
    {
        var subscription = new JobSubscription("job", fromToken: 0);
        subscription.Post(Admitted("r1"));
        subscription.Post(new JobEventRecord("job", JobEventKind.Queued, T0, QueuePosition: 3));
        subscription.Post(Tokens(0, " a"));

        Assert.Equal([JobEventKind.Admitted, JobEventKind.Tokens], Drain(subscription).Select(e => e.Kind));
    }

    [Fact]
    public void ReplayRecord_AdmissionNeverArrived_ReleasesTheHeldTokensAfterTheRecordsAdmission()
    {
        var subscription = new JobSubscription("job", fromToken: 0);
        subscription.Post(Tokens(0, "a"));
        var placement = new JobPlacement("r1", "a1", "H100", "n1", 0);
        var record = new JobSnapshot("job", "tenant", "model", JobStatus.Completed, 1, 2, JobPriority.Standard, T0, placement,
            new JobUsage(1, 2, 0, 0, 0, 0), "ab", null, "length", [1, 2]);

        subscription.ReplayRecord(record, fromToken: 0, T0, withAdmission: false);

        var events = Drain(subscription);
        Assert.Equal([JobEventKind.Admitted, JobEventKind.Tokens, JobEventKind.Tokens, JobEventKind.Completed], events.Select(e => e.Kind));
        Assert.Equal(placement, events[0].Placement);
        Assert.True(subscription.Events.Completion.IsCompleted);
    }

    [Fact]
    public void ReplayRecord_WithoutTokenBoundaries_GoesOnAfterTheTokensItsAdmissionReleased()
    {
        // The record did not keep every token's boundary, so its text goes as one chunk: it must start after the tokens
        // the admission released, or the client would get a chunk overlapping tokens it has (and drop it whole).
        var subscription = new JobSubscription("job", fromToken: 0);
        subscription.Post(Tokens(0, "a"));
        subscription.Post(Tokens(1, "b"));
        var record = new JobSnapshot("job", "tenant", "model", JobStatus.Completed, 1, 4, JobPriority.Standard, T0,
            new JobPlacement("r1", "a1", "H100", "n1", 0), new JobUsage(1, 4, 0, 0, 0, 0), "abcd", null, "length", [1, 2, 3]);

        subscription.ReplayRecord(record, fromToken: subscription.NextToken, T0, withAdmission: false);

        var tokens = Drain(subscription).Where(e => e.Kind == JobEventKind.Tokens).ToList();
        Assert.Equal([(0, 1), (1, 1), (2, 2)], tokens.Select(e => (e.FirstTokenIndex, e.TokenCount)));
        Assert.Equal("abcd", string.Concat(tokens.Select(e => e.Text)));
    }

    [Fact]
    public void ReplayRecord_WithoutTokenBoundaries_LiveTokenArrivingAsTheRecordsTokensArePosted_IsDeliveredOnce()
    {
        // A stream attached while the job's last tokens were still on their way (WatchJob, a failover client): the record
        // is replayed on the stream's thread while the hub posts a late live token on another. The record's text goes as
        // one chunk, so it must start after every token delivered when it is posted, that live one included.
        var subscription = AdmittedSubscription();
        subscription.Post(Tokens(0, "a"));
        var record = new JobSnapshot("job", "tenant", "model", JobStatus.Completed, 1, 4, JobPriority.Standard, T0,
            new JobPlacement("r0", "a-r0", "H100", "n", 0), new JobUsage(1, 4, 0, 0, 0, 0), "abcd", null, "length", [1, 2, 3]);
        subscription.BeforeRecordTokens = () =>
        {
            var live = new Thread(() => subscription.Post(Tokens(1, "b")));
            live.Start();
            live.Join();
        };

        subscription.ReplayRecord(record, fromToken: 0, T0, withAdmission: false);

        var events = Drain(subscription);
        var tokens = events.Where(e => e.Kind == JobEventKind.Tokens).ToList();
        Assert.Equal([(0, 1), (1, 1), (2, 2)], tokens.Select(e => (e.FirstTokenIndex, e.TokenCount)));
        Assert.Equal("abcd", string.Concat(tokens.Select(e => e.Text)));
        Assert.Equal(JobEventKind.Completed, events[^1].Kind);
    }

    [Fact]
    public void ReplayRecord_WithoutAPlacement_StillAnnouncesAnAdmissionBeforeTheTokens()
    {
        // The record's admission notice was lost too: the stream keeps its order with an admission that names no replica.
        var subscription = new JobSubscription("job", fromToken: 0);
        var record = new JobSnapshot("job", "tenant", "model", JobStatus.Completed, 1, 1, JobPriority.Standard, T0, null,
            new JobUsage(1, 1, 0, 0, 0, 0), "a", null, "length", [1]);

        subscription.ReplayRecord(record, fromToken: 0, T0, withAdmission: true);

        var events = Drain(subscription);
        Assert.Equal([JobEventKind.Admitted, JobEventKind.Tokens, JobEventKind.Completed], events.Select(e => e.Kind));
        Assert.Null(events[0].Placement);
    }

    [Fact]
    public async Task ReadCoalesced_WaitingTokenEvents_AreMergedIntoOneMessage()
    {
        var subscription = new JobSubscription("job", fromToken: 0);
        subscription.Post(new JobEventRecord("job", JobEventKind.Admitted, T0, Placement: new JobPlacement("r", "a", "L4", "n", 0)));
        for (var i = 0; i < 5; i++)
        {
            subscription.Post(Tokens(i, $" t{i}"));
        }

        subscription.Post(Completed(5));

        var read = new List<JobEventRecord>();
        await foreach (var e in subscription.Events.ReadCoalesced(TimeSpan.Zero, TimeProvider.System, CancellationToken.None))
        {
            read.Add(e);
        }

        Assert.Equal([JobEventKind.Admitted, JobEventKind.Tokens, JobEventKind.Completed], read.Select(e => e.Kind));
        Assert.Equal(" t0 t1 t2 t3 t4", read[1].Text);
        Assert.Equal((0, 5), (read[1].FirstTokenIndex, read[1].TokenCount));
    }

    [Fact]
    public async Task ReadCoalesced_LongBacklog_IsSplitAtTheMessageLimit()
    {
        var subscription = AdmittedSubscription();
        var total = CoalescingReader.MaxTokensPerMessage + 10;
        for (var i = 0; i < total; i++)
        {
            subscription.Post(Tokens(i, "x"));
        }

        subscription.Post(Completed(total));
        var chunks = new List<JobEventRecord>();
        await foreach (var e in subscription.Events.ReadCoalesced(TimeSpan.Zero, TimeProvider.System, CancellationToken.None))
        {
            if (e.Kind == JobEventKind.Tokens)
            {
                chunks.Add(e);
            }
        }

        // The subscription merged the tokens waiting past MergingEventQueue.MergeAfter as they came (64 single ones, then
        // one run of 202); the reader merges the first 64 and stops at the limit.
        Assert.Equal([MergingEventQueue.MergeAfter, total - MergingEventQueue.MergeAfter], chunks.Select(c => c.TokenCount));
        Assert.All(chunks, c => Assert.True(c.TokenCount <= CoalescingReader.MaxTokensPerMessage));
        Assert.Equal(Enumerable.Range(0, total), chunks.SelectMany(c => Enumerable.Range(c.FirstTokenIndex, c.TokenCount)));
        Assert.Equal(new string('x', total), string.Concat(chunks.Select(c => c.Text)));
    }

    [Fact]
    public async Task Post_ReaderFarBehind_WaitingTokensAreMergedAsTheyCome_AndReadOnceInOrder()
    {
        var subscription = AdmittedSubscription();
        const int total = 4_096;
        for (var i = 0; i < total; i++)
        {
            subscription.Post(Tokens(i, "t" + i + " "));
        }

        subscription.Post(Completed(total));

        // An event per token was 4,097 waiting; now the first MergeAfter, then runs of the message limit.
        Assert.True(subscription.Events.Count <= MergingEventQueue.MergeAfter + (total / CoalescingReader.MaxTokensPerMessage) + 2, $"{subscription.Events.Count} events wait");
        var text = new System.Text.StringBuilder();
        var next = 0;
        await foreach (var e in subscription.Events.ReadCoalesced(TimeSpan.Zero, TimeProvider.System, CancellationToken.None))
        {
            if (e.Kind == JobEventKind.Tokens)
            {
                Assert.Equal(next, e.FirstTokenIndex);
                next += e.TokenCount;
                text.Append(e.Text);
            }
        }

        Assert.Equal(total, next);
        Assert.Equal(string.Concat(Enumerable.Range(0, total).Select(i => "t" + i + " ")), text.ToString());
        Assert.True(subscription.Events.Completion.IsCompleted);
    }

    [Fact]
    public async Task ReadCoalesced_LoneTokenEvent_IsPassedOnAsItIs()
    {
        var subscription = AdmittedSubscription();
        var tokens = Tokens(0, "ab", count: 2);
        subscription.Post(tokens);
        subscription.Post(Completed(2));

        var read = new List<JobEventRecord>();
        await foreach (var e in subscription.Events.ReadCoalesced(TimeSpan.Zero, TimeProvider.System, CancellationToken.None))
        {
            read.Add(e);
        }

        Assert.Equal([JobEventKind.Tokens, JobEventKind.Completed], read.Select(e => e.Kind));
        Assert.Same(tokens, read[0]);
    }

    [Fact]
    public async Task ReadCoalesced_ChunksOfSeveralTokens_AreMergedByTheirCounts()
    {
        var subscription = AdmittedSubscription();
        subscription.Post(Tokens(0, "ab", count: 2));
        subscription.Post(Tokens(2, "c"));
        subscription.Post(Tokens(3, "de", count: 2));
        subscription.Post(Completed(5));

        var read = new List<JobEventRecord>();
        await foreach (var e in subscription.Events.ReadCoalesced(TimeSpan.Zero, TimeProvider.System, CancellationToken.None))
        {
            read.Add(e);
        }

        Assert.Equal([JobEventKind.Tokens, JobEventKind.Completed], read.Select(e => e.Kind));
        Assert.Equal((0, 5, "abcde"), (read[0].FirstTokenIndex, read[0].TokenCount, read[0].Text));
    }

    [Fact]
    public async Task ReadCoalesced_TheEventEndingARun_StaysWaitingInTheChannel_SoAWriterCanSkipAFlush()
    {
        var subscription = new JobSubscription("job", fromToken: 0);
        subscription.Post(new JobEventRecord("job", JobEventKind.Admitted, T0, Placement: new JobPlacement("r", "a", "L4", "n", 0)));
        subscription.Post(Tokens(0, " a"));
        subscription.Post(Tokens(1, " b"));
        subscription.Post(Completed(2));

        var waitingAfter = new List<(JobEventKind Kind, bool MoreWaiting)>();
        await foreach (var e in subscription.Events.ReadCoalesced(TimeSpan.Zero, TimeProvider.System, CancellationToken.None))
        {
            waitingAfter.Add((e.Kind, subscription.Events.TryPeek(out _)));
        }

        // Only the end, with nothing after it, leaves the channel empty: every earlier event is followed by one waiting.
        Assert.Equal([(JobEventKind.Admitted, true), (JobEventKind.Tokens, true), (JobEventKind.Completed, false)], waitingAfter);
    }
}
