using Grpc.Core;
using Scheduler.Abstractions.Tenants;
using Scheduler.Protos;
using Scheduler.Protos.Errors;
using Scheduler.Protos.V1;

namespace Scheduler.Silo.Api;

/// <summary>
/// Runs one <c>StreamJobs</c> call: many jobs submitted over one HTTP/2 stream, all their events written back on it.
/// A stream per job costs both ends a new HTTP/2 stream (headers, trailers, a flush per event) — half of a job's CPU on
/// the embedded default (docs/benchmarks.md, issue 12, step 11); here the jobs share one stream and events that are due
/// together go out in one flush (<see cref="SharedResponseStream{T}"/>). Each job's events are exactly
/// <see cref="JobSubmissions.Events"/>, as StreamJob's.
/// </summary>
internal sealed class JobMultiplexer(JobSubmissions submissions, SiloDrain drain, ErrorInterceptor errors, AuthInterceptor auth)
{
    /// <summary>Longest <c>ref</c>: a name, not a payload (it is echoed on every message of its job).</summary>
    public const int MaxRefLength = 256;

    public async Task Run(
        string tenant, IAsyncStreamReader<StreamJobsRequest> requests, IServerStreamWriter<StreamJobsResponse> responses, ServerCallContext context)
    {
        submissions.ThrowIfDraining();
        using var call = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        using var output = new SharedResponseStream<StreamJobsResponse>(responses, call);
        using var open = new OpenJobs(call);

        // A draining silo ends the call at once, open jobs or none, as it ends a StreamJob: the client resumes its jobs
        // on another silo with WatchJob and sends its next submissions there.
        using var draining = drain.Draining.Register(static state => ((OpenJobs)state!).Fail(SchedulerErrors.Draining()), open);
        try
        {
            while (await requests.MoveNext(call.Token))
            {
                await open.WaitForRoom(call.Token);
                var request = requests.Current;
                if (Refusal(request, open) is { } refused)
                {
                    submissions.Refused(SubmissionDoors.StreamJobs, tenant, refused);

                    // A ref reused while its submission is open is refused under that ref: after the open one's first
                    // message, or a client reading "this ref's first message is its fate" would take the refusal for
                    // the open submission's, whose job was accepted. A refusal held back keeps its room until it is
                    // written, so a client that does not read cannot have the call hold more than StreamJobsLimits.MaxOpenSubmissions of them.
                    var answer = Refused(request.Ref, refused);
                    if (!open.DeferUntilAnswered(request.Ref, answer))
                    {
                        open.Release();
                        await output.WriteAsync(answer, moreReady: false);
                    }

                    continue;
                }

                // Accepted while the next submissions are read: a call accepts as many a second as its open jobs allow,
                // not one per round trip to the tenant (and, in Redis mode, to Redis).
                _ = Serve(tenant, request, output, open, context, call.Token);
            }

            // The client has closed its side: the call ends once the open jobs have (each writes its end before it
            // closes).
            await open.AllEnded();
        }
        catch (Exception) when (call.IsCancellationRequested)
        {
            // The client went away (the request stream's read fails with it, or a write did), or a job's stream failed
            // (open.Failure): the call ends; its jobs run on either way.
        }
        finally
        {
            await call.CancelAsync();
            await open.AllEnded();
        }

        if (open.Failure is { } failure)
        {
            throw failure;
        }

        context.CancellationToken.ThrowIfCancellationRequested();
        if (output.Failure is { } broken)
        {
            // A write failed with the client still there (ErrorInterceptor makes it INTERNAL).
            throw new InvalidOperationException("a StreamJobs response could not be written", broken);
        }
    }

    /// <summary>Why a submission is refused before it reaches the tenant, if it is; otherwise its ref is taken.</summary>
    private static RpcException? Refusal(StreamJobsRequest request, OpenJobs open)
    {
        if (request.Ref.Length == 0)
        {
            return SchedulerErrors.InvalidArgument("ref", "must be set: every message about the submission carries it");
        }

        if (Characters.MoreThan(request.Ref, MaxRefLength))
        {
            return SchedulerErrors.InvalidArgument("ref", $"must be at most {MaxRefLength} characters");
        }

        if (request.Job is null)
        {
            return SchedulerErrors.InvalidArgument("job", "must be set");
        }

        return open.TryOpen(request.Ref)
            ? null
            : SchedulerErrors.InvalidArgument("ref", $"'{SchedulerErrors.Echo(request.Ref)}' names a submission of this call that has not ended");
    }

    /// <summary>What SubmitJob would have answered, as a message under the submission's ref: its status, retry hint,
    /// field, ErrorInfo (reason and metadata) and, for a refusal by a quota, the x-ratelimit figures as numbers.</summary>
    private static StreamJobsResponse Refused(string reference, RpcException ex)
    {
        var info = RichErrors.InfoOf(ex);
        var quota = ex as QuotaRefusal;
        var refused = new SubmissionRefused
        {
            Code = (int)ex.StatusCode,
            Message = ex.Status.Detail,
            RetryAfterMs = SchedulerErrors.RetryAfterMs(ex) ?? 0,
            Field = SchedulerErrors.FieldOf(ex) ?? "",
            Reason = info?.Reason ?? "",
            Requests = RateLimitOf(quota?.Requests),
            Tokens = RateLimitOf(quota?.Tokens),
        };
        if (info is not null)
        {
            refused.Metadata.Add(info.Metadata);
        }

        // Cut to the longest ref taken, so a refused megabyte-long ref is not echoed whole; a ref within it is echoed as sent.
        return new StreamJobsResponse { Ref = Characters.First(reference, MaxRefLength), Refused = refused };
    }

    private static RateLimit? RateLimitOf(QuotaHeadroom? quota) => quota is null
        ? null
        : new RateLimit { Limit = quota.Limit, Remaining = quota.Remaining, ResetMs = RateLimitTrailers.Milliseconds(quota.Reset) };

    /// <summary>Submits one job and writes its events, or its refusal, under its ref; closes the ref when done.</summary>
    private async Task Serve(
        string tenant, StreamJobsRequest request, SharedResponseStream<StreamJobsResponse> output, OpenJobs open, ServerCallContext context,
        CancellationToken cancellationToken)
    {
        var reference = request.Ref;
        SubmittedJob? submitted = null;
        try
        {
            try
            {
                await Reauthenticate(tenant, context);
                submitted = await submissions.Submit(SubmissionDoors.StreamJobs, tenant, request.Job, subscribe: true, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                await output.WriteAsync(Refused(reference, ex as RpcException ?? errors.Map(ex, context)), moreReady: false);
                await WriteDeferred();
                return;
            }

            var answered = false;
            await foreach (var e in submissions.Events(submitted, cancellationToken))
            {
                await output.WriteAsync(new StreamJobsResponse { Ref = reference, Event = e.ToProto() }, submitted.MoreWaiting);
                if (!answered)
                {
                    answered = true;
                    await WriteDeferred();
                }
            }
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // The call is ending (the client left, a write broke, the silo drains): what ended it is recorded there. An
            // accepted job runs on.
        }
        catch (Exception ex)
        {
            // The silo is draining, or a followed job's record is lost for now: the whole call ends with it, as a
            // StreamJob would, and the client follows the open jobs elsewhere with WatchJob.
            open.Fail(ex as RpcException ?? errors.Map(ex, context));
        }
        finally
        {
            submitted?.Dispose();

            // Its ref is free again whatever happened: the call cannot end while a submission stays open.
            open.Close(reference);
        }

        // The refusals of submissions that reused this ref before its first message went out.
        async Task WriteDeferred()
        {
            if (open.Answered(reference) is { } deferred)
            {
                foreach (var refusal in deferred)
                {
                    await output.WriteAsync(refusal, moreReady: false);
                    open.Release();
                }
            }
        }
    }

    /// <summary>Checks the call's key again, as a call of the submission's own would be (through the same cache): a
    /// gateway keeps one call open for hours, and a key revoked meanwhile went on making jobs on it, unseen by the key's
    /// last-used time an operator watches before revoking. A key no longer valid is refused as SubmitJob would refuse it;
    /// one that now names another tenant (a configured key moved) as invalid for this call's.</summary>
    private async ValueTask Reauthenticate(string tenant, ServerCallContext context)
    {
        var owner = await auth.AuthenticateTenantAgain(context.GetHttpContext());
        if (owner != tenant)
        {
            throw SchedulerErrors.Unauthenticated($"the call's API key is no longer tenant '{tenant}''s: open a new call");
        }
    }

    /// <summary>The call's submissions that have not ended: their refs, the room left for more, and how the call failed.</summary>
    private sealed class OpenJobs(CancellationTokenSource call) : IDisposable
    {
        private readonly SemaphoreSlim _room = new(StreamJobsLimits.MaxOpenSubmissions, StreamJobsLimits.MaxOpenSubmissions);

        // Marks an open ref whose first message went out.
        private static readonly List<StreamJobsResponse> AnsweredMark = [];

        // Each open ref: null until its first message went out, or the refusals of submissions that reused it meanwhile;
        // AnsweredMark once it went out. (Nothing is allocated for a ref nobody reuses.)
        private readonly Dictionary<string, List<StreamJobsResponse>?> _refs = [];
        private readonly Lock _gate = new();
        private TaskCompletionSource? _ended;
        private RpcException? _failure;

        public RpcException? Failure
        {
            get
            {
                lock (_gate)
                {
                    return _failure;
                }
            }
        }

        public Task WaitForRoom(CancellationToken cancellationToken) => _room.WaitAsync(cancellationToken);

        public void Release() => _room.Release();

        public bool TryOpen(string reference)
        {
            lock (_gate)
            {
                return _refs.TryAdd(reference, null);
            }
        }

        /// <summary>Holds <paramref name="refusal"/> of a submission that reused <paramref name="reference"/> until the open
        /// submission's first message went out; false when it already has (or has ended): write it now.</summary>
        public bool DeferUntilAnswered(string reference, StreamJobsResponse refusal)
        {
            lock (_gate)
            {
                if (!_refs.TryGetValue(reference, out var deferred) || ReferenceEquals(deferred, AnsweredMark))
                {
                    return false;
                }

                (_refs[reference] = deferred ?? []).Add(refusal);
                return true;
            }
        }

        /// <summary>The submission's first message went out: the refusals held for its ref, to write next (null: none).</summary>
        public List<StreamJobsResponse>? Answered(string reference)
        {
            lock (_gate)
            {
                if (!_refs.TryGetValue(reference, out var deferred) || ReferenceEquals(deferred, AnsweredMark))
                {
                    return null;
                }

                _refs[reference] = AnsweredMark;
                return deferred;
            }
        }

        /// <summary>The submission ended (its job's end was written, it was refused, or the call is ending).</summary>
        public void Close(string reference)
        {
            lock (_gate)
            {
                _refs.Remove(reference);

                // Released before the end is signalled, so no release comes after the call has disposed of the room.
                _room.Release();
                if (_refs.Count == 0)
                {
                    _ended?.TrySetResult();
                }
            }
        }

        public void Fail(RpcException ex)
        {
            lock (_gate)
            {
                _failure ??= ex;
            }

            call.Cancel();
        }

        /// <summary>Completes once every open submission has ended.</summary>
        public Task AllEnded()
        {
            lock (_gate)
            {
                if (_refs.Count == 0)
                {
                    return Task.CompletedTask;
                }

                if (_ended is null || _ended.Task.IsCompleted)
                {
                    _ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                return _ended.Task;
            }
        }

        public void Dispose() => _room.Dispose();
    }
}
