using Microsoft.Extensions.Time.Testing;
using Scheduler.Abstractions.Jobs;
using Scheduler.Silo.Streaming;
using static Scheduler.Tests.Silo.Streaming.SubscriptionEvents;

namespace Scheduler.Tests.Silo.Streaming;

/// <summary><see cref="CoalescingReader"/> with a token interval (<c>Scheduler:TokenStreamIntervalMilliseconds</c>): the
/// stream's first tokens at once, the later ones merged once per interval, and the job's end never held.</summary>
public sealed class CoalescingReaderTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new(T0);

    [Fact]
    public async Task ReadCoalesced_WithATokenInterval_TheFirstTokensGoAtOnce_LaterOnesWaitTheIntervalAndGoMerged()
    {
        var subscription = AdmittedSubscription();
        await using var events = subscription.Events.ReadCoalesced(Interval, _time, CancellationToken.None).GetAsyncEnumerator();

        subscription.Post(Tokens(0, " a"));
        var first = events.MoveNextAsync();
        Assert.True(first.IsCompleted, "the first tokens were held");
        Assert.True(await first);
        Assert.Equal((0, 1), (events.Current.FirstTokenIndex, events.Current.TokenCount));

        subscription.Post(Tokens(1, " b"));
        subscription.Post(Tokens(2, " c"));
        var later = events.MoveNextAsync().AsTask();
        Assert.False(later.IsCompleted, "tokens after the first went out before the interval");
        _time.Advance(Interval - TimeSpan.FromMilliseconds(1));
        await Task.Delay(50);
        Assert.False(later.IsCompleted, "tokens went out a millisecond before the interval");

        subscription.Post(Tokens(3, " d"));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await later.WaitAsync(Patience));
        Assert.Equal((1, 3, " b c d"), (events.Current.FirstTokenIndex, events.Current.TokenCount, events.Current.Text));
    }

    [Fact]
    public async Task ReadCoalesced_WithATokenInterval_TheJobsEndEndsTheHold_AndGoesOutWithTheTokensHeld()
    {
        var subscription = AdmittedSubscription();
        await using var events = subscription.Events.ReadCoalesced(TimeSpan.FromSeconds(1), _time, CancellationToken.None).GetAsyncEnumerator();
        subscription.Post(Tokens(0, " a"));
        Assert.True(await events.MoveNextAsync());

        subscription.Post(Tokens(1, " b"));
        var held = events.MoveNextAsync().AsTask();
        Assert.False(held.IsCompleted);

        // No time passes: the end alone lets the held tokens out, then follows them.
        subscription.Post(Completed(2));
        Assert.True(await held.WaitAsync(Patience));
        Assert.Equal((JobEventKind.Tokens, 1, " b"), (events.Current.Kind, events.Current.FirstTokenIndex, events.Current.Text));
        Assert.True(await events.MoveNextAsync());
        Assert.Equal(JobEventKind.Completed, events.Current.Kind);
        Assert.False(await events.MoveNextAsync());
    }

    [Fact]
    public async Task ReadCoalesced_WithATokenInterval_TokensComingAfterTheIntervalHasPassed_GoAtOnce()
    {
        var subscription = AdmittedSubscription();
        await using var events = subscription.Events.ReadCoalesced(Interval, _time, CancellationToken.None).GetAsyncEnumerator();
        subscription.Post(Tokens(0, " a"));
        Assert.True(await events.MoveNextAsync());

        _time.Advance(Interval);
        subscription.Post(Tokens(1, " b"));
        var next = events.MoveNextAsync();

        Assert.True(next.IsCompleted, "tokens a whole interval after the last were held");
        Assert.True(await next);
        Assert.Equal(" b", events.Current.Text);
    }

    [Fact]
    public async Task ReadCoalesced_WithATokenInterval_AStreamCancelledDuringAHold_Ends()
    {
        var subscription = AdmittedSubscription();
        using var cancel = new CancellationTokenSource();
        await using var events = subscription.Events.ReadCoalesced(TimeSpan.FromSeconds(1), _time, cancel.Token).GetAsyncEnumerator();
        subscription.Post(Tokens(0, " a"));
        Assert.True(await events.MoveNextAsync());
        subscription.Post(Tokens(1, " b"));
        var held = events.MoveNextAsync().AsTask();

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => held.WaitAsync(Patience));
    }

    [Fact]
    public async Task ReadCoalesced_WithoutATokenInterval_EveryStepsTokensGoAsTheyCome()
    {
        var subscription = AdmittedSubscription();
        await using var events = subscription.Events.ReadCoalesced(TimeSpan.Zero, _time, CancellationToken.None).GetAsyncEnumerator();

        for (var i = 0; i < 3; i++)
        {
            subscription.Post(Tokens(i, " t"));
            var next = events.MoveNextAsync();
            Assert.True(next.IsCompleted, $"token {i} was held");
            Assert.True(await next);
            Assert.Equal((i, 1), (events.Current.FirstTokenIndex, events.Current.TokenCount));
        }
    }

    [Fact]
    public async Task ReadCoalesced_WithATokenInterval_TokensItWillHold_AreNotReadyWaiting_SoTheLastWriteIsFlushed()
    {
        var subscription = AdmittedSubscription();
        await using var events = subscription.Events.ReadCoalesced(Interval, _time, CancellationToken.None).GetAsyncEnumerator();
        subscription.Post(Tokens(0, " a"));
        Assert.True(await events.MoveNextAsync());

        // The writer asks right after the first tokens: a token waiting now goes out an interval later, so the first must
        // be flushed (a write buffered behind it would hold the first token back for the interval).
        subscription.Post(Tokens(1, " b"));
        Assert.False(subscription.Events.ReadyWaiting);

        // The job's end behind it ends the hold: both go out at once.
        subscription.Post(Completed(2));
        Assert.True(subscription.Events.ReadyWaiting);
    }

    [Fact]
    public async Task ReadCoalesced_WithoutATokenInterval_TokensWaiting_AreReadyWaiting()
    {
        var subscription = AdmittedSubscription();
        await using var events = subscription.Events.ReadCoalesced(TimeSpan.Zero, _time, CancellationToken.None).GetAsyncEnumerator();
        subscription.Post(Tokens(0, " a"));
        Assert.True(await events.MoveNextAsync());

        subscription.Post(Tokens(1, " b"));

        Assert.True(subscription.Events.ReadyWaiting);
    }
}
