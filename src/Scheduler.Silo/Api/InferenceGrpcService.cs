using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Silo.Api;

/// <summary>The tenants' gRPC front door. Authentication happened in <see cref="AuthInterceptor"/>; the submission path
/// itself is <see cref="JobSubmissions"/>, shared with the OpenAI-compatible HTTP API.</summary>
internal sealed class InferenceGrpcService(JobSubmissions submissions, JobMultiplexer multiplexer, JobListing listing) : InferenceService.InferenceServiceBase
{
    // A write that only appends to the HTTP/2 stream; the next write without it sends both (see StreamJob).
    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);

    public override async Task<Job> SubmitJob(SubmitJobRequest request, ServerCallContext context)
    {
        using var submitted = await submissions.Submit(SubmissionDoors.SubmitJob, AuthInterceptor.TenantOf(context), request, subscribe: false, context.CancellationToken);
        return submitted.Job.ToProto();
    }

    public override async Task StreamJob(SubmitJobRequest request, IServerStreamWriter<JobEvent> responseStream, ServerCallContext context)
    {
        using var submitted = await submissions.Submit(SubmissionDoors.StreamJob, AuthInterceptor.TenantOf(context), request, subscribe: true, context.CancellationToken);
        await foreach (var e in submissions.Events(submitted, context.CancellationToken))
        {
            // Usually Queued and Admitted, or a step's tokens and the end, are ready together: one flush for both. The
            // last event read before the stream waits is always flushed, so nothing is held back.
            responseStream.WriteOptions = submitted.MoreWaiting ? Buffered : null;
            await responseStream.WriteAsync(e.ToProto(), context.CancellationToken);
        }
    }

    public override Task StreamJobs(
        IAsyncStreamReader<StreamJobsRequest> requestStream, IServerStreamWriter<StreamJobsResponse> responseStream, ServerCallContext context) =>
        multiplexer.Run(AuthInterceptor.TenantOf(context), requestStream, responseStream, context);

    public override async Task<Job> GetJob(GetJobRequest request, ServerCallContext context)
    {
        var job = await submissions.OwnJob(AuthInterceptor.TenantOf(context), request.JobId);
        return job.ToProto();
    }

    public override async Task WatchJob(WatchJobRequest request, IServerStreamWriter<JobEvent> responseStream, ServerCallContext context)
    {
        if (request.FromToken < 0)
        {
            throw SchedulerErrors.InvalidArgument("from_token", "must not be negative");
        }

        submissions.ThrowIfDraining();
        var tenant = AuthInterceptor.TenantOf(context);
        await submissions.OwnJob(tenant, request.JobId);
        await foreach (var e in submissions.Follow(tenant, request.JobId, request.FromToken, context.CancellationToken))
        {
            await responseStream.WriteAsync(e.ToProto(), context.CancellationToken);
        }
    }

    public override async Task<Job> CancelJob(CancelJobRequest request, ServerCallContext context)
    {
        await submissions.OwnJob(AuthInterceptor.TenantOf(context), request.JobId);
        var job = await submissions.Cancel(request.JobId);
        return job.ToProto();
    }

    public override Task<ListJobsResponse> ListJobs(ListJobsRequest request, ServerCallContext context)
    {
        var tenant = AuthInterceptor.TenantOf(context);
        if (request.TenantId.Length > 0 && request.TenantId != tenant)
        {
            throw SchedulerErrors.PermissionDenied("tenant_id: a tenant lists only its own jobs; leave tenant_id empty");
        }

        return listing.List(request, tenant, context.CancellationToken);
    }
}
