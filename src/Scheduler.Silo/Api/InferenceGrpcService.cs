using System.Diagnostics;
using Grpc.Core;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Tenants;
using Scheduler.Grains;
using Scheduler.Protos.V1;
using Scheduler.Silo.Streaming;
using Scheduler.Silo.Telemetry;

namespace Scheduler.Silo.Api;

/// <summary>The tenants' front door. Authentication happened in <see cref="AuthInterceptor"/>.</summary>
internal sealed class InferenceGrpcService(
    IGrainFactory grains,
    JobRequestValidator validator,
    JobEventHub hub,
    StreamBackfill backfill,
    SchedulerTelemetry telemetry,
    SiloDrain drain,
    TimeProvider time) : InferenceService.InferenceServiceBase
{
    private static readonly TimeSpan RecordPoll = TimeSpan.FromMilliseconds(20);

    // Longer than a tenant waits out a silo failure while accepting a job (SiloFailures.RetryAsync), by a margin for
    // the time its tries take besides the pauses.
    private static readonly int MaxRecordWaits = (int)((SiloFailures.RetryBudget + TimeSpan.FromSeconds(2)) / RecordPoll);

    public override async Task<Job> SubmitJob(SubmitJobRequest request, ServerCallContext context)
    {
        var (_, result) = await Submit(request, context, subscribe: false);
        return result.Job!.ToProto();
    }

    public override async Task StreamJob(SubmitJobRequest request, IServerStreamWriter<JobEvent> responseStream, ServerCallContext context)
    {
        var (subscription, result) = await Submit(request, context, subscribe: true);
        try
        {
            if (result.Duplicate)
            {
                // The same idempotency key: follow the earlier job instead, from its start.
                await Follow(result.Job!.JobId, 0, responseStream, context);
                return;
            }

            var queued = new JobEventRecord(result.Job!.JobId, JobEventKind.Queued, time.GetUtcNow(), QueuePosition: result.QueuePosition);
            await responseStream.WriteAsync(queued.ToProto(), context.CancellationToken);
            await Pump(subscription!, responseStream, context);
        }
        finally
        {
            hub.Unsubscribe(subscription!);
        }
    }

    public override async Task<Job> GetJob(GetJobRequest request, ServerCallContext context)
    {
        var job = await OwnJob(request.JobId, context);
        return job.ToProto();
    }

    public override async Task WatchJob(WatchJobRequest request, IServerStreamWriter<JobEvent> responseStream, ServerCallContext context)
    {
        if (request.FromToken < 0)
        {
            throw SchedulerErrors.InvalidArgument("from_token", "must not be negative");
        }

        ThrowIfDraining();
        await OwnJob(request.JobId, context);
        await Follow(request.JobId, request.FromToken, responseStream, context);
    }

    public override async Task<Job> CancelJob(CancelJobRequest request, ServerCallContext context)
    {
        await OwnJob(request.JobId, context);
        var job = await grains.GetGrain<IJobGrain>(request.JobId).Cancel();
        return job!.ToProto();
    }

    private async Task<(JobSubscription? Subscription, SubmitResult Result)> Submit(SubmitJobRequest request, ServerCallContext context, bool subscribe)
    {
        ThrowIfDraining();
        var tenant = AuthInterceptor.TenantOf(context);
        var jobId = "job-" + Guid.NewGuid().ToString("N");
        using var activity = telemetry.StartSubmit(jobId, tenant, request.Model);
        var jobRequest = await validator.Validate(request, activity?.Id ?? Activity.Current?.Id);

        // Listen before submitting: the job may be admitted and stream tokens before Submit returns.
        var subscription = subscribe ? hub.Subscribe(jobId, 0) : null;
        SubmitResult result;
        try
        {
            result = await grains.GetGrain<ITenantGrain>(tenant).Submit(jobId, jobRequest, subscription is null ? [] : [hub.Reference]);
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

            return (subscription, result);
        }

        hub.UnsubscribeIfAny(subscription);
        throw result.Rejection switch
        {
            SubmitRejection.QueueFull or SubmitRejection.RateLimited or SubmitRejection.Shed =>
                SchedulerErrors.ResourceExhausted(result.Message!, result.RetryAfter),
            SubmitRejection.IdempotencyKeyReused => SchedulerErrors.AlreadyExists(result.Message!),
            _ => SchedulerErrors.Unauthenticated(result.Message!),
        };
    }

    /// <summary>Streams an existing job's events: attaches to it if it is still queued or running, else replays its record.</summary>
    private async Task Follow(string jobId, int fromToken, IServerStreamWriter<JobEvent> responseStream, ServerCallContext context)
    {
        var subscription = hub.Subscribe(jobId, fromToken);
        try
        {
            var job = grains.GetGrain<IJobGrain>(jobId);
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

                await Task.Delay(RecordPoll, context.CancellationToken);
                watch = await job.Watch(hub.Reference, fromToken);
            }

            if (!watch.Attached)
            {
                var final = await WaitTerminal(job, watch.Job!, context.CancellationToken);
                subscription.ReplayRecord(final, fromToken, time.GetUtcNow(), withAdmission: true);
            }

            await Pump(subscription, responseStream, context);
        }
        finally
        {
            hub.Unsubscribe(subscription);
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

    private async Task Pump(JobSubscription subscription, IServerStreamWriter<JobEvent> responseStream, ServerCallContext context)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, drain.Draining);
        var lostEvents = backfill.WatchAsync(subscription, grains.GetGrain<IJobGrain>(subscription.JobId), stop.Token);
        try
        {
            await foreach (var e in subscription.Events.ReadCoalesced(stop.Token))
            {
                await responseStream.WriteAsync(e.ToProto(), stop.Token);
            }
        }
        catch (OperationCanceledException) when (drain.IsDraining && !context.CancellationToken.IsCancellationRequested)
        {
            // The job goes on; its client picks it up on another silo.
            throw SchedulerErrors.Draining();
        }
        finally
        {
            await stop.CancelAsync();
            await lostEvents.ContinueWith(static _ => { }, TaskScheduler.Default);
        }
    }

    private void ThrowIfDraining()
    {
        if (drain.IsDraining)
        {
            throw SchedulerErrors.Draining();
        }
    }

    private async Task<JobSnapshot> OwnJob(string jobId, ServerCallContext context)
    {
        Identifiers.RequireReference(jobId, "job_id");

        // A miss is asked twice: the first may have reached an activation that raced a failover (see JobGrain.Get).
        var grain = grains.GetGrain<IJobGrain>(jobId);
        var job = await grain.Get() ?? await grain.Get();

        // Another tenant's job is indistinguishable from no job: nothing about it leaks.
        if (job is null || job.TenantId != AuthInterceptor.TenantOf(context))
        {
            throw SchedulerErrors.NotFound("job", jobId);
        }

        return job;
    }
}
