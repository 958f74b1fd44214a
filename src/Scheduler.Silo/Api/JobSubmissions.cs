using System.Diagnostics;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Tenants;
using Scheduler.Grains;
using Scheduler.Protos.V1;
using Scheduler.Silo.Streaming;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Silo.Api;

/// <summary>
/// The one submission path behind every front door (gRPC <see cref="InferenceGrpcService"/>, the OpenAI-compatible HTTP
/// API): validation, the tenant's quotas and idempotency, and a job's events in the streams' order. Refusals are thrown
/// as <see cref="SchedulerErrors"/>; each door turns them into its own protocol's errors.
/// </summary>
internal sealed class JobSubmissions(
    IGrainFactory grains,
    GrainReferences references,
    JobRequestValidator validator,
    JobEventHub hub,
    StreamBackfill backfill,
    SchedulerTelemetry telemetry,
    SiloDrain drain,
    MissingJobs missing,
    IOptions<ApiOptions> api,
    TimeProvider time)
{
    private readonly TimeSpan _tokenInterval = TimeSpan.FromMilliseconds(api.Value.TokenStreamIntervalMilliseconds);

    private static readonly TimeSpan RecordPoll = TimeSpan.FromMilliseconds(20);

    // Longer than a tenant waits out a silo failure while accepting a job (SiloFailures.RetryAsync), by a margin for
    // the time its tries take besides the pauses.
    private static readonly int MaxRecordWaits = (int)((SiloFailures.RetryBudget + TimeSpan.FromSeconds(2)) / RecordPoll);

    /// <summary>
    /// Validates and submits a job for <paramref name="tenant"/> that came in by <paramref name="door"/>
    /// (<see cref="SubmissionDoors"/>; a refusal is counted under it). With <paramref name="subscribe"/> the job's events are
    /// listened to from before it is submitted (read them with <see cref="Events"/>); dispose the result to stop.
    /// <paramref name="endUser"/> (the OpenAI API's <c>user</c>) only labels the submission's span. With
    /// <paramref name="fitMaxTokens"/> the client set no max_tokens (see <see cref="JobRequestValidator.Validate"/>).
    /// A submission whose call has ended (<paramref name="callEnded"/>) by the time it reaches the tenant is refused as
    /// CANCELLED: a job accepted then would run, and be billed, for a client that has already given up. Once accepted, a
    /// job outlives its call (inference.proto).
    /// </summary>
    public async Task<SubmittedJob> Submit(
        string door, string tenant, SubmitJobRequest request, bool subscribe, CancellationToken callEnded, string? endUser = null, bool fitMaxTokens = false)
    {
        try
        {
            return await Accept(tenant, request, subscribe, endUser, fitMaxTokens, callEnded);
        }
        catch (Exception ex)
        {
            Refused(door, tenant, ex);
            throw;
        }
    }

    /// <summary>Counts a submission refused at <paramref name="door"/> (<see cref="SubmissionDoors"/>) with the status
    /// <paramref name="ex"/> is answered with: the ones <see cref="Submit"/> refuses, and those a door refuses before it
    /// (a <c>StreamJobs</c> ref, an OpenAI body that is not JSON).</summary>
    public void Refused(string door, string tenant, Exception ex) =>
        telemetry.SubmissionRefused(door, tenant, ex switch
        {
            RpcException rpc => rpc.StatusCode,
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => StatusCode.ResourceExhausted,
            BadHttpRequestException => StatusCode.InvalidArgument,
            _ => SchedulerErrors.Transient(ex)?.StatusCode ?? StatusCode.Internal,
        });

    private async Task<SubmittedJob> Accept(
        string tenant, SubmitJobRequest request, bool subscribe, string? endUser, bool fitMaxTokens, CancellationToken callEnded)
    {
        ThrowIfDraining();
        var jobId = "job-" + Guid.NewGuid().ToString("N");
        using var activity = telemetry.StartSubmit(jobId, tenant, request.Model);
        if (endUser is not null)
        {
            activity?.SetTag(SemanticConventions.EndUser, endUser);
        }

        var jobRequest = await validator.Validate(request, activity?.Id ?? Activity.Current?.Id, fitMaxTokens);

        // Checked last before the tenant, after the validation's awaits: under load a call's deadline can pass (a 1 ms
        // deadline under a storm of calls did for most of them) while its submission waits its turn.
        if (callEnded.IsCancellationRequested)
        {
            throw SchedulerErrors.CallEnded();
        }

        // Listen before submitting: the job may be admitted and stream tokens before Submit returns.
        var subscription = subscribe ? hub.Subscribe(jobId, 0) : null;
        SubmitResult result;
        try
        {
            result = await references.Tenant(tenant).Submit(jobId, jobRequest, subscription is null ? [] : [hub.Reference]);
        }
        catch
        {
            hub.UnsubscribeIfAny(subscription);
            throw;
        }

        if (result.Rejection == SubmitRejection.None)
        {
            // A resubmission with the same idempotency key returns the earlier job: it was counted when accepted.
            if (!result.Duplicate)
            {
                telemetry.JobSubmitted(tenant, jobRequest.Model);
            }

            return new SubmittedJob(hub, result.Job!, result.Duplicate, result.QueuePosition, subscription, RateLimitHeaders.Of(result));
        }

        hub.UnsubscribeIfAny(subscription);
        var refusal = result.Rejection switch
        {
            SubmitRejection.RateLimited when result is { RetryAfter: null, Quota: { } quota } => LargerThanQuota(tenant, jobRequest, quota, result.QuotaLimit),
            SubmitRejection.QueueFull or SubmitRejection.RateLimited => SchedulerErrors.RateLimited(result.Message!, result.RetryAfter, result.Quota, result.QuotaLimit),
            SubmitRejection.Shed => SchedulerErrors.Overloaded(SchedulerErrors.ResourceExhausted(result.Message!, result.RetryAfter)),
            SubmitRejection.IdempotencyKeyReused => SchedulerErrors.AlreadyExists(Protos.Errors.ErrorReasons.IdempotencyKeyReused, result.Message!),
            _ => SchedulerErrors.Unauthenticated(result.Message!),
        };

        // A refusal by a quota says where the tenant stands against its quotas (the OpenAI door's x-ratelimit headers).
        throw result.Rejection is SubmitRejection.RateLimited or SubmitRejection.QueueFull
            ? new QuotaRefusal(Protos.Errors.RichErrors.WithTrailers(refusal, RateLimitHeaders.Of(result)), result.Requests, result.Tokens)
            : refusal;
    }

    /// <summary>The refusal of a job larger than the tenant's <paramref name="quota"/> of <paramref name="limit"/> a minute,
    /// naming max_tokens when lowering it would do, else the prompt. A job whose max_tokens was a default (the tenant
    /// fitted it to the quota) is refused only for its prompt, and is not told of a max_tokens it never sent.</summary>
    private static RpcException LargerThanQuota(string tenant, JobRequest job, string quota, long limit)
    {
        var promptField = job.Messages is not null ? "messages" : job.PromptTokenIds is not null ? "prompt_token_ids" : "prompt";
        var allowance = $"tenant '{SchedulerErrors.Echo(tenant)}' may use in a minute (its {quota} quota; limit {limit}, requested";
        if (job.FitMaxTokens)
        {
            // The least this prompt needs: itself and one token of output.
            var least = (long)job.PromptTokens + 1;
            return SchedulerErrors.LargerThanQuota(
                promptField,
                $"{job.PromptTokens} prompt tokens leave no room to generate within what {allowance} {least}), so no retry can pass: " +
                "shorten the prompt, or have the quota raised",
                quota,
                limit,
                least);
        }

        var requested = (long)job.PromptTokens + job.MaxTokens;
        var (field, remedy) = job.PromptTokens < limit
            ? ("max_tokens", $"lower max_tokens to at most {limit - job.PromptTokens}")
            : (promptField, "shorten the prompt");
        return SchedulerErrors.LargerThanQuota(
            field,
            $"{job.PromptTokens} prompt tokens + max_tokens {job.MaxTokens} need {requested} tokens, more than {allowance} {requested}), " +
            $"so no retry can pass: {remedy}, or have the quota raised",
            quota,
            limit,
            requested);
    }

    /// <summary>A job submitted with <c>subscribe</c>: its events in StreamJob's order, queued first, the end last.
    /// A duplicate (the same idempotency key) follows the earlier job from its start instead.</summary>
    public async IAsyncEnumerable<JobEventRecord> Events(SubmittedJob submitted, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (submitted.Duplicate)
        {
            // A retry with the job's idempotency key streams that job from `queued`, as the first submission's did: the
            // contract's order (inference.proto) is the same whichever submission accepted the job.
            yield return new JobEventRecord(submitted.Job.JobId, JobEventKind.Queued, time.GetUtcNow(), QueuePosition: submitted.QueuePosition);
            await foreach (var e in Follow(submitted.Job.TenantId, submitted.Job.JobId, 0, cancellationToken))
            {
                yield return e;
            }

            yield break;
        }

        var subscription = submitted.Subscription ?? throw new InvalidOperationException("The job was submitted without subscribe.");
        yield return new JobEventRecord(submitted.Job.JobId, JobEventKind.Queued, time.GetUtcNow(), QueuePosition: submitted.QueuePosition);
        await foreach (var e in Pump(submitted.Job.TenantId, subscription, cancellationToken))
        {
            yield return e;
        }
    }

    /// <summary>An existing job of <paramref name="tenant"/>'s events: attached to it if it is still queued or running, else
    /// replayed from its record.</summary>
    public async IAsyncEnumerable<JobEventRecord> Follow(string tenant, string jobId, int fromToken, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var subscription = hub.Subscribe(jobId, fromToken);
        try
        {
            var job = references.Job(jobId);
            var watch = await job.Watch(hub.Reference, fromToken);

            // A resubmission with the same idempotency key may follow a job whose record the tenant is still creating
            // (it answered INTERNAL before; found by the fuzz test): the record is a moment away, or a failover away.
            // The job was accepted, so a record still missing after the wait is UNAVAILABLE, never NOT_FOUND: a call
            // to a grain that was moving can take Orleans' whole response timeout (30 s) to fail and be repeated.
            for (var wait = 0; watch.Job is null; wait++)
            {
                if (wait == MaxRecordWaits)
                {
                    throw SchedulerErrors.RecordPending(jobId);
                }

                await Task.Delay(RecordPoll, cancellationToken);
                watch = await job.Watch(hub.Reference, fromToken);
            }

            if (!watch.Attached)
            {
                var final = await WaitTerminal(job, watch.Job!, cancellationToken);
                subscription.ReplayRecord(final, fromToken, time.GetUtcNow(), withAdmission: true);
            }

            await foreach (var e in Pump(tenant, subscription, cancellationToken))
            {
                yield return e;
            }
        }
        finally
        {
            hub.Unsubscribe(subscription);
        }
    }

    /// <summary>A job of <paramref name="tenant"/>; another tenant's job is indistinguishable from no job.</summary>
    public async Task<JobSnapshot> OwnJob(string tenant, string jobId)
    {
        Identifiers.RequireReference(jobId, "job_id");

        // A miss is asked twice: the first may have reached an activation that raced a failover (see JobGrain.Get).
        var grain = grains.GetGrain<IJobGrain>(jobId);
        var job = await grain.Get() ?? await grain.Get();
        if (job is null || job.TenantId != tenant)
        {
            throw missing.NotFound(jobId);
        }

        return job;
    }

    /// <summary>Cancels a job (see InferenceService.CancelJob for what the answer means).</summary>
    public async Task<JobSnapshot> Cancel(string jobId) => (await grains.GetGrain<IJobGrain>(jobId).Cancel())!;

    public void ThrowIfDraining()
    {
        if (drain.IsDraining)
        {
            throw SchedulerErrors.Draining();
        }
    }

    private static async Task<JobSnapshot> WaitTerminal(IJobGrain job, JobSnapshot snapshot, CancellationToken cancellationToken)
    {
        // Only reached in the instant between a job's last token and its record: a short poll is enough.
        while (!snapshot.IsTerminal)
        {
            await Task.Delay(20, cancellationToken);
            snapshot = await job.Get() ?? snapshot;
        }

        return snapshot;
    }

    private async IAsyncEnumerable<JobEventRecord> Pump(string tenant, JobSubscription subscription, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, drain.Draining);
        var lostEvents = backfill.WatchAsync(subscription, () => references.Job(subscription.JobId), stop.Token);
        var events = subscription.Events.ReadCoalesced(_tokenInterval, time, stop.Token).GetAsyncEnumerator(stop.Token);
        try
        {
            while (true)
            {
                try
                {
                    if (!await events.MoveNextAsync())
                    {
                        yield break;
                    }
                }
                catch (OperationCanceledException) when (drain.IsDraining && !cancellationToken.IsCancellationRequested)
                {
                    // The job goes on; its client picks it up on another silo.
                    throw SchedulerErrors.Draining();
                }

                if (events.Current.Kind == JobEventKind.Tokens)
                {
                    telemetry.TokenBatchStreamed(tenant);
                }

                yield return events.Current;
            }
        }
        finally
        {
            await events.DisposeAsync();
            await stop.CancelAsync();
            await lostEvents.ContinueWith(static _ => { }, TaskScheduler.Default);
        }
    }
}
