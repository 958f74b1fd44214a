using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Streaming;

/// <summary>
/// A stream's events waiting for its client, for one reader. Once more than <see cref="MergeAfter"/> wait, a token
/// event that continues the last one waiting is merged into it (up to <see cref="CoalescingReader.MaxTokensPerMessage"/>
/// tokens), so a client that does not read costs the silo the text of its tokens, not an event per token: 1,000 jobs of
/// 4,096 tokens streamed over one StreamJobs call that was never read grew the standalone silo by 930 MB, about 225
/// bytes a token, in an unbounded channel. A client that keeps up still gets every step's tokens as they come. The
/// first event waiting is never merged into: it may be the one the reader has peeked at (<see cref="CoalescingReader"/>
/// peeks, then reads), and must stay as it was seen.
/// </summary>
internal sealed class MergingEventQueue : ChannelReader<JobEventRecord>
{
    /// <summary>Events that wait unmerged: a reader this far behind is not keeping up.</summary>
    public const int MergeAfter = 64;

    private readonly LinkedList<JobEventRecord> _events = [];
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource<bool>? _waiter;
    private TaskCompletionSource? _moreThanTokens;
    private int _othersWaiting;
    private bool _tokensHeld;
    private bool _completed;

    public override Task Completion => _completion.Task;

    public override bool CanCount => true;

    public override bool CanPeek => true;

    public override int Count
    {
        get
        {
            lock (_gate)
            {
                return _events.Count;
            }
        }
    }

    /// <summary>Queues <paramref name="e"/>, merged into the last event waiting when it continues its tokens.</summary>
    public void Write(JobEventRecord e)
    {
        TaskCompletionSource<bool>? waiter;
        TaskCompletionSource? moreThanTokens = null;
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            if (_events.Count > MergeAfter && _events.Last!.Value is var last && Continues(last, e))
            {
                _events.Last.Value = last with { TokenCount = last.TokenCount + e.TokenCount, Text = last.Text + e.Text };
            }
            else
            {
                _events.AddLast(e);
            }

            waiter = _waiter;
            _waiter = null;
            if (e.Kind != JobEventKind.Tokens)
            {
                _othersWaiting++;
                moreThanTokens = _moreThanTokens;
                _moreThanTokens = null;
            }
        }

        waiter?.TrySetResult(true);
        moreThanTokens?.TrySetResult();
    }

    /// <summary>No event follows; the reader drains what waits, then sees the end.</summary>
    public void Complete()
    {
        TaskCompletionSource<bool>? waiter;
        TaskCompletionSource? moreThanTokens;
        bool drained;
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            drained = _events.Count == 0;
            waiter = _waiter;
            _waiter = null;
            moreThanTokens = _moreThanTokens;
            _moreThanTokens = null;
        }

        waiter?.TrySetResult(false);
        moreThanTokens?.TrySetResult();
        if (drained)
        {
            _completion.TrySetResult();
        }
    }

    public override bool TryRead([MaybeNullWhen(false)] out JobEventRecord item)
    {
        bool drained;
        lock (_gate)
        {
            if (_events.First is not { } first)
            {
                item = default;
                return false;
            }

            item = first.Value;
            _events.RemoveFirst();
            if (item.Kind != JobEventKind.Tokens)
            {
                _othersWaiting--;
            }

            drained = _completed && _events.Count == 0;
        }

        if (drained)
        {
            _completion.TrySetResult();
        }

        return true;
    }

    public override bool TryPeek([MaybeNullWhen(false)] out JobEventRecord item)
    {
        lock (_gate)
        {
            if (_events.First is { } first)
            {
                item = first.Value;
                return true;
            }

            item = default;
            return false;
        }
    }

    /// <summary>An event waits that its reader passes on at once: not tokens it holds for a token interval
    /// (<see cref="HoldTokens"/>), unless something after them ends the hold. A writer that sees one may skip a flush,
    /// since its next write follows at once; held tokens would leave the last write unflushed for the interval.</summary>
    public bool ReadyWaiting
    {
        get
        {
            lock (_gate)
            {
                return _events.First is { } first && (first.Value.Kind != JobEventKind.Tokens || !_tokensHeld || HoldEnds);
            }
        }
    }

    /// <summary>The reader holds the tokens that wait (<paramref name="held"/>) or passes them on as they come.</summary>
    public void HoldTokens(bool held)
    {
        lock (_gate)
        {
            _tokensHeld = held;
        }
    }

    /// <summary>Completes once an event other than tokens waits (the job's end, a new admission) or no event will follow:
    /// what ends a hold on the tokens waiting early (<see cref="CoalescingReader"/>), so that the end is never late.</summary>
    public Task WhenMoreThanTokensWait()
    {
        lock (_gate)
        {
            if (HoldEnds)
            {
                return Task.CompletedTask;
            }

            return (_moreThanTokens ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    // An event after the tokens (the end, a new admission) or the queue's end: what ends a hold on them. Under the lock.
    private bool HoldEnds => _othersWaiting > 0 || _completed;

    public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        Task<bool> wait;
        lock (_gate)
        {
            if (_events.Count > 0)
            {
                return new ValueTask<bool>(true);
            }

            if (_completed)
            {
                return new ValueTask<bool>(false);
            }

            wait = (_waiter ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        return new ValueTask<bool>(wait.WaitAsync(cancellationToken));
    }

    private static bool Continues(JobEventRecord last, JobEventRecord e) =>
        last.Kind == JobEventKind.Tokens && e.Kind == JobEventKind.Tokens
        && e.FirstTokenIndex == last.FirstTokenIndex + last.TokenCount
        && last.TokenCount + e.TokenCount <= CoalescingReader.MaxTokensPerMessage;
}
