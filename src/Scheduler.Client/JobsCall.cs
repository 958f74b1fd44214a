using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Grpc.Core;
using Scheduler.Protos;
using Scheduler.Protos.Errors;
using Scheduler.Protos.V1;

namespace Scheduler.Client;

/// <summary>
/// One open <c>StreamJobs</c> call shared by many jobs: each submission is written under a ref of its own, and one
/// reader hands every message back to the job its ref names. When the call breaks, every job still on it sees the
/// same <see cref="RpcException"/>, and the call takes no more submissions.
/// </summary>
internal sealed class JobsCall : IDisposable
{
    private readonly AsyncDuplexStreamingCall<StreamJobsRequest, StreamJobsResponse> _call;

    // Room for one more open submission: taken before one is written, given back when its refusal or its job's end comes
    // back (whether or not its caller still reads), or when it was never written. A submission written past the silo's
    // limit waits unread in the connection's buffers, out of its caller's reach: a job given up on there (its deadline
    // passed, its caller cancelled) and told "not accepted" was made all the same once room came. Never disposed, as
    // _writing.
    [SuppressMessage("Reliability", "CA2213:Disposable fields should be disposed", Justification = "See the comment above.")]
    private readonly SemaphoreSlim _room = new(StreamJobsLimits.MaxOpenSubmissions);

    // Cancelled when the call has ended: submissions waiting for room then fail with the call's status.
    [SuppressMessage("Reliability", "CA2213:Disposable fields should be disposed", Justification = "Cancelled as the call ends, after any dispose; it has no timer.")]
    private readonly CancellationTokenSource _ended = new();

    // The request stream takes one write at a time. Never disposed: a job may still be passing it when the call is, and
    // a disposed gate would fail that job with ObjectDisposedException instead of the call's status (it holds no wait
    // handle unless one is asked for, so the collector reclaims it whole).
    [SuppressMessage("Reliability", "CA2213:Disposable fields should be disposed", Justification = "See the comment above.")]
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly Dictionary<string, Channel<StreamJobsResponse>> _open = new(StringComparer.Ordinal);
    private RpcException? _failure;
    private long _refs;

    public JobsCall(SchedulerClient silo, int siloIndex)
    {
        SiloIndex = siloIndex;
        _call = silo.StreamMany();
        _ = ReadAsync();
    }

    /// <summary>Which of the runner's silos the call went to.</summary>
    public int SiloIndex { get; }

    /// <summary>True once the call has ended: it takes no more submissions.</summary>
    public bool IsBroken => Volatile.Read(ref _failure) is not null;

    /// <summary>Submits <paramref name="request"/> and streams its events up to its end. A refusal throws the status the
    /// scheduler gave it (with its <c>retry-after-ms</c> trailer, as <c>SubmitJob</c> would); the call breaking throws
    /// the call's status. Cancelling stops the reading, not the job; a submission still waiting for room (the silo holds
    /// <see cref="StreamJobsLimits.MaxOpenSubmissions"/> of the call's submissions open) is not sent, so it makes no job.</summary>
    public async IAsyncEnumerable<JobEvent> Submit(SubmitJobRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var reference = Interlocked.Increment(ref _refs).ToString(CultureInfo.InvariantCulture);
        var inbox = Channel.CreateUnbounded<StreamJobsResponse>(new() { SingleReader = true, SingleWriter = true });
        await WaitForRoom(cancellationToken);
        var written = false;
        try
        {
            lock (_open)
            {
                if (_failure is { } failed)
                {
                    throw failed;
                }

                _open.Add(reference, inbox);
            }

            try
            {
                await WriteAsync(new StreamJobsRequest { Ref = reference, Job = request }, cancellationToken);
                written = true;
                await foreach (var message in inbox.Reader.ReadAllAsync(cancellationToken))
                {
                    if (message.KindCase == StreamJobsResponse.KindOneofCase.Refused)
                    {
                        throw Refusal(message.Refused);
                    }

                    yield return message.Event;
                    if (JobResultBuilder.Ends(message.Event))
                    {
                        yield break;
                    }
                }
            }
            finally
            {
                // Later messages under this ref (none after the end; the rest of a job given up on) are dropped.
                lock (_open)
                {
                    _open.Remove(reference);
                }
            }
        }
        finally
        {
            if (!written)
            {
                _room.Release();
            }
        }
    }

    /// <summary>Ends the call; the jobs it submitted run on.</summary>
    public void Dispose() => _call.Dispose();

    /// <summary>Waits until the silo holds fewer than <see cref="StreamJobsLimits.MaxOpenSubmissions"/> of the call's submissions open;
    /// throws the call's status if it ends first.</summary>
    private async Task WaitForRoom(CancellationToken cancellationToken)
    {
        // Room at once, as nearly always: no linked token.
        if (_room.Wait(0, CancellationToken.None))
        {
            return;
        }

        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _ended.Token);
        try
        {
            await _room.WaitAsync(either.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw Volatile.Read(ref _failure)!;
        }
    }

    private async Task WriteAsync(StreamJobsRequest request, CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken);
        try
        {
            // Not cancelled by one job's token: a write cut short would end the call for every job on it.
            await _call.RequestStream.WriteAsync(request, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            // Written to a call that has ended (InvalidOperationException) or whose connection broke.
            throw Volatile.Read(ref _failure) ?? new RpcException(new Status(StatusCode.Unavailable, "the StreamJobs call broke: " + ex.Message, ex));
        }
        finally
        {
            _writing.Release();
        }
    }

    private async Task ReadAsync()
    {
        RpcException failure;
        try
        {
            await foreach (var message in _call.ResponseStream.ReadAllAsync())
            {
                Channel<StreamJobsResponse>? inbox;
                lock (_open)
                {
                    _open.TryGetValue(message.Ref, out inbox);
                }

                inbox?.Writer.TryWrite(message);
                if (message.KindCase == StreamJobsResponse.KindOneofCase.Refused || (message.Event is { } e && JobResultBuilder.Ends(e)))
                {
                    // The silo no longer holds this submission open.
                    _room.Release();
                }
            }

            // The server ends a call only after the client closed its side, which this class never does.
            failure = new RpcException(new Status(StatusCode.Unavailable, "the StreamJobs call ended"));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted && RichErrors.ReasonOf(ex) == ErrorReasons.Overloaded)
        {
            // The silo had no room to read the next submission (its bound on request bytes being read) and ended the
            // call, not its jobs: for them it is a call lost, as to a draining silo — the accepted ones are followed on
            // the next call, the rest submitted again after the runner's backoff.
            failure = new RpcException(new Status(StatusCode.Unavailable, "the StreamJobs call was ended by an overloaded silo: " + ex.Status.Detail, ex));
        }
        catch (RpcException ex)
        {
            failure = ex;
        }
        catch (Exception ex)
        {
            failure = new RpcException(new Status(StatusCode.Unavailable, "the StreamJobs call broke: " + ex.Message, ex));
        }

        Channel<StreamJobsResponse>[] open;
        lock (_open)
        {
            _failure = failure;
            open = [.. _open.Values];
        }

        await _ended.CancelAsync();

        foreach (var inbox in open)
        {
            inbox.Writer.TryComplete(failure);
        }
    }

    /// <summary>The status SubmitJob would have thrown for this refusal, its trailers (the retry hint, a quota's
    /// x-ratelimit figures) and rich error details (the field's BadRequest, the hint's RetryInfo, the reason's ErrorInfo
    /// with its metadata) included.</summary>
    private static RpcException Refusal(SubmissionRefused refused)
    {
        var refusal = RichErrors.WithTrailers(Rebuilt(refused), RateLimitTrailers.Of(refused));
        return refused.Reason.Length > 0 ? RichErrors.WithReason(refusal, refused.Reason, refused.Metadata) : refusal;
    }

    private static RpcException Rebuilt(SubmissionRefused refused)
    {
        var code = (StatusCode)refused.Code;
        var fieldPrefix = refused.Field + ": ";
        if (code == StatusCode.InvalidArgument && refused.Field.Length > 0 && refused.Message.StartsWith(fieldPrefix, StringComparison.Ordinal))
        {
            return RichErrors.InvalidArgument(refused.Field, refused.Message[fieldPrefix.Length..]);
        }

        if (code == StatusCode.ResourceExhausted && refused.RetryAfterMs > 0)
        {
            var trailers = new Metadata { { RetryHint.TrailerName, refused.RetryAfterMs.ToString(CultureInfo.InvariantCulture) } };
            return RichErrors.ResourceExhausted(refused.Message, TimeSpan.FromMilliseconds(refused.RetryAfterMs), trailers);
        }

        return new RpcException(new Status(code, refused.Message));
    }
}
