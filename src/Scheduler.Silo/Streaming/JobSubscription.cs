using Scheduler.Abstractions.Jobs;

namespace Scheduler.Silo.Streaming;

/// <summary>
/// One client stream's view of a job's events. Events may arrive twice (a replay after a watcher attached, a
/// re-dispatch after a node failure) or out of order (different senders, and one-way calls are not ordered); token
/// events carry their index, so this delivers each token exactly once, in order, and the terminal event only after
/// the last token. The stream's order is part of the API — queued, admitted, tokens, end — so tokens that overtake
/// the job's admission are held until it arrives, and a queued event after it is dropped. Events that never arrive
/// (lost while the cluster changed) are filled in from the job's record (<see cref="ReplayRecord"/>,
/// <see cref="AdmitFromRecord"/>).
/// </summary>
internal sealed class JobSubscription(string jobId, int fromToken)
{
    private readonly MergingEventQueue _out = new();
    // Tokens held for a gap or the admission, by first index; made only when a token is held (rarely: one-way calls are
    // usually in order), not for every stream.
    private SortedDictionary<int, JobEventRecord>? _early;
    private readonly Lock _gate = new();
    private int _nextToken = fromToken;
    private JobEventRecord? _terminal;
    private JobPlacement? _lastPlacement;
    private bool _admitted;
    private bool _done;
    private long _posted;

    public string JobId { get; } = jobId;

    public MergingEventQueue Events => _out;

    /// <summary>The first token index not yet delivered.</summary>
    public int NextToken
    {
        get
        {
            lock (_gate)
            {
                return _nextToken;
            }
        }
    }

    /// <summary>How many events were posted so far: unchanged between two looks means nothing arrived.</summary>
    public long Posted => Interlocked.Read(ref _posted);

    /// <summary>The job's end arrived but some of its tokens did not.</summary>
    public bool WaitingForTokens
    {
        get
        {
            lock (_gate)
            {
                return _terminal is not null && !_done;
            }
        }
    }

    /// <summary>The job's end is in the stream, after all its tokens (its client may not have read them yet): no event
    /// can be missing any more.</summary>
    public bool Ended
    {
        get
        {
            lock (_gate)
            {
                return _done;
            }
        }
    }

    /// <summary>Tokens arrived but the admission they follow did not (yet).</summary>
    public bool WaitingForAdmission
    {
        get
        {
            lock (_gate)
            {
                return !_admitted && HoldsTokens;
            }
        }
    }

    private bool HoldsTokens => _early is { Count: > 0 };

    /// <summary>Called by <see cref="ReplayRecord"/> after the record's admission is in the stream, the last moment before
    /// its tokens are: a test posts a live token there, as the hub can on another thread.</summary>
    internal Action? BeforeRecordTokens { get; set; }

    public void Post(JobEventRecord e)
    {
        Interlocked.Increment(ref _posted);
        lock (_gate)
        {
            Accept(e);
        }
    }

    /// <summary>Takes one event; the caller holds the lock.</summary>
    private void Accept(JobEventRecord e)
    {
        if (_done)
        {
            return;
        }

        switch (e.Kind)
        {
            case JobEventKind.Tokens:
                AcceptTokens(e);
                break;
            case JobEventKind.Admitted:
                // A re-dispatch admits the job again elsewhere; the same admission replayed is dropped.
                if (!_admitted || e.Placement != _lastPlacement)
                {
                    _admitted = true;
                    _lastPlacement = e.Placement;
                    _out.Write(e);
                    ReleaseEarlyTokens();
                }

                break;
            case JobEventKind.Queued when !_admitted:
                _out.Write(e);
                break;
            case JobEventKind.Queued:
                // A watcher's replayed queue position, overtaken by the admission: the job has left the queue.
                break;
            default:
                _terminal = e;
                break;
        }

        TryFinish();
    }

    /// <summary>
    /// Posts a finished job's record as events: its admission (when <paramref name="withAdmission"/>, or when this stream
    /// has not seen one and the job ran), its tokens from <paramref name="fromToken"/> and its end. Tokens already
    /// delivered are dropped as usual.
    /// </summary>
    public void ReplayRecord(JobSnapshot job, int fromToken, DateTimeOffset now, bool withAdmission)
    {
        if (withAdmission && job.Placement is { } placement)
        {
            Post(new JobEventRecord(job.JobId, JobEventKind.Admitted, now, Placement: placement));
        }
        else
        {
            AdmitFromRecord(job, now);
        }

        BeforeRecordTokens?.Invoke();
        Interlocked.Increment(ref _posted);
        lock (_gate)
        {
            // The record goes on after the tokens delivered when its own are posted (those its admission released, and
            // live ones the hub posted meanwhile on its threads), so no event it posts straddles a token already
            // delivered: such a chunk would be delivered whole, its first tokens twice. Hence one lock for reading where
            // to start and posting: with the read before it, a live token landing in between was delivered twice.
            fromToken = Math.Max(fromToken, _nextToken);

            // One event per token where the record kept boundaries: this silo's other streams of the job may hand this
            // subscription some of these tokens live later, and it drops exactly those only if no event straddles them.
            var completion = job.Usage?.CompletionTokens ?? 0;
            if (job.TokenEnds?.Length == completion)
            {
                for (var token = fromToken; token < completion; token++)
                {
                    Accept(new JobEventRecord(job.JobId, JobEventKind.Tokens, now, token, job.TokenText(token)!, 1));
                }
            }
            else if (completion > fromToken)
            {
                Accept(new JobEventRecord(job.JobId, JobEventKind.Tokens, now, fromToken, job.OutputFrom(fromToken), completion - fromToken));
            }

            Accept(job.TerminalEvent(now));
        }
    }

    /// <summary>
    /// Posts the admission of a job that streamed tokens when this stream saw none: the admission event was lost, or
    /// is late. The record's placement is where the job was first admitted; a record that lost that too (its own notice
    /// is a one-way call) still yields an admission, naming no replica, so no token is ever delivered before one.
    /// </summary>
    public void AdmitFromRecord(JobSnapshot job, DateTimeOffset now)
    {
        bool needed;
        lock (_gate)
        {
            needed = !_admitted && (HoldsTokens || (job.Usage?.CompletionTokens ?? 0) > _nextToken || job.Placement is not null);
        }

        if (needed)
        {
            Post(new JobEventRecord(job.JobId, JobEventKind.Admitted, now, Placement: job.Placement));
        }
    }

    private void AcceptTokens(JobEventRecord e)
    {
        var end = e.FirstTokenIndex + e.TokenCount;
        if (end <= _nextToken)
        {
            return;
        }

        if (e.FirstTokenIndex > _nextToken || !_admitted)
        {
            // Held: a gap before it, or no admission yet. Of two held chunks starting at one token, the longer is kept.
            _early ??= [];
            if (!_early.TryGetValue(e.FirstTokenIndex, out var held) || held.TokenCount < e.TokenCount)
            {
                _early[e.FirstTokenIndex] = e;
            }

            return;
        }

        Emit(e, end);
        ReleaseEarlyTokens();
    }

    private void ReleaseEarlyTokens()
    {
        while (_early is { Count: > 0 })
        {
            var (first, next) = _early.First();
            _early.Remove(first);
            var nextEnd = first + next.TokenCount;
            if (nextEnd <= _nextToken)
            {
                continue;
            }

            if (first > _nextToken)
            {
                _early[first] = next;
                break;
            }

            Emit(next, nextEnd);
        }
    }

    private void Emit(JobEventRecord e, int end)
    {
        if (e.FirstTokenIndex < _nextToken && string.IsNullOrEmpty(e.Text))
        {
            // A chunk straddling tokens already delivered (replayed from the record one by one) would repeat their
            // indexes. One without text (the tokens an upstream engine's usage counted beyond the chunks it streamed) is
            // cut to the tokens not yet delivered. One with text (the llama engine's tokens of a character split over
            // them) cannot be cut without its boundaries; the record keeps each chunk whole, so a replay of the run that
            // sent it never ends inside it.
            e = e with { FirstTokenIndex = _nextToken, TokenCount = end - _nextToken };
        }

        _out.Write(e);
        _nextToken = end;
    }

    private void TryFinish()
    {
        if (_terminal is null)
        {
            return;
        }

        // A completed job reports how many tokens it produced, and so does one cancelled while it ran (those its node
        // delivered; an end without a usage counts none): hold the end back until all have been delivered, and any end
        // while tokens wait for their admission.
        var expected = _terminal.Usage?.CompletionTokens ?? 0;
        if (_nextToken < expected || (!_admitted && HoldsTokens))
        {
            return;
        }

        _out.Write(_terminal);
        _out.Complete();
        _done = true;
    }
}
