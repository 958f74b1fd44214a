using Scheduler.Protos.V1;

namespace Scheduler.Client;

/// <summary>Runs a job to its end across the loss of any silo: <see cref="FailoverJobRunner"/> (a call per job) or
/// <see cref="MultiplexedJobRunner"/> (many jobs over one <c>StreamJobs</c> call).</summary>
public interface IJobRunner : IDisposable
{
    /// <summary>
    /// Submits <paramref name="request"/> and streams it to its end across silo failures; returns what it produced, with
    /// <see cref="JobResult.Reconnects"/> set. A refusal that retrying cannot fix (a bad field, credentials, a quota: see
    /// <see cref="RetryHint"/>) throws its status at once; a job not finished by <paramref name="deadline"/> throws
    /// <see cref="Grpc.Core.RpcException"/> with <see cref="Grpc.Core.StatusCode.DeadlineExceeded"/>, naming the job.
    /// </summary>
    /// <param name="request">The job. Its idempotency key is set on a copy if empty, so a repeated submission never
    /// becomes a second job.</param>
    /// <param name="onTokens">Called with each token chunk not received before.</param>
    /// <param name="deadline">When to give up (UTC); the job itself keeps running.</param>
    /// <param name="cancellationToken">Ends the wait (the job itself keeps running).</param>
    Task<JobResult> RunAsync(
        SubmitJobRequest request, Action<TokenChunk>? onTokens = null, DateTime? deadline = null, CancellationToken cancellationToken = default);
}
