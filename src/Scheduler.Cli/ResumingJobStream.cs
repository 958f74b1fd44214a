using Grpc.Core;
using Scheduler.Client;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary>
/// A job's stream (<c>submit</c>, <c>watch</c>) that outlives the silo serving it: when the stream breaks (its silo died
/// or drains) or ends before the job did, the job is followed again with WatchJob from the first token not yet printed,
/// on the next address — the client library's failover loop, the one <see cref="FailoverJobRunner"/> runs, over
/// schedctl's own address rotation. Before the first event the rotation alone moves the stream (a submission carries an
/// idempotency key, made when none was given, so its repeat never becomes a second job), and a stream no address
/// started fails at once. Each resumption is said on stderr; after
/// <see cref="MaxTriesWithoutEvent"/> tries in a row that got no event it gives up, saying how to follow the job.
/// </summary>
internal sealed class ResumingJobStream(SchedulerClient client, AddressRotation addresses, TokenWriter tokens)
{
    /// <summary>Tries in a row without an event before giving up: with the backoff (50 ms doubling to 1 s) about 17 s
    /// of waiting, longer than a cluster takes to declare a dead silo and move its jobs (a few seconds).</summary>
    public const int MaxTriesWithoutEvent = 20;

    /// <summary>Submits <paramref name="request"/> and streams the job to its end.</summary>
    public Task<JobResult> SubmitAsync(SubmitJobRequest request, CancellationToken cancellationToken)
    {
        request = Failover.Keyed(request);
        return RunAsync(
            (job, wait) => job.JobId.Length == 0
                ? client.StreamAsync(request, cancellationToken: wait)
                : client.WatchAsync(job.JobId, job.TokenCount, cancellationToken: wait),
            firstToken: 0,
            cancellationToken);
    }

    /// <summary>Follows job <paramref name="jobId"/> to its end, its tokens from <paramref name="fromToken"/>.</summary>
    public Task<JobResult> WatchAsync(string jobId, int fromToken, CancellationToken cancellationToken) =>
        RunAsync((job, wait) => client.WatchAsync(jobId, fromToken + job.TokenCount, cancellationToken: wait), fromToken, cancellationToken);

    private async Task<JobResult> RunAsync(
        Func<JobResultBuilder, CancellationToken, IAsyncEnumerable<JobEvent>> events, int firstToken, CancellationToken cancellationToken)
    {
        JobResultBuilder? seen = null;
        try
        {
            return await Failover.RunAsync(
                (job, wait) =>
                {
                    seen = job;
                    return new(events(job, wait), failure => Resume(job, firstToken, failure));
                },
                tokens.Write,
                deadline: null,
                cancellationToken,
                MaxTriesWithoutEvent);
        }
        catch (Exception) when (seen is { JobId.Length: > 0 } job && cancellationToken.IsCancellationRequested)
        {
            // Ctrl+C or SIGTERM: only schedctl stops; the job runs on (a stream's end is not a cancellation), so say how
            // to follow or stop it.
            tokens.Note($"schedctl: interrupted. {RunsOn(job, firstToken)}; 'schedctl cancel {job.JobId}' stops it");
            throw;
        }
        catch (RpcException e) when (seen is { JobId.Length: > 0 } job && !cancellationToken.IsCancellationRequested)
        {
            // The job runs on whatever broke its stream: the error ends saying how to follow it. (A transport failure's
            // cause is in the detail already: each try's is in the addresses' detail, and the notes printed each.) The
            // trailers stay: their rich error (a BadRequest naming the field) is what tells the refusal by its flag.
            throw new RpcException(new Status(e.StatusCode, $"{e.Status.Detail}. {RunsOn(job, firstToken)}"), e.Trailers);
        }
    }

    private void Resume(JobResultBuilder job, int firstToken, RpcException? failure)
    {
        if (job.JobId.Length == 0)
        {
            // No event yet: the rotation already tried the stream on every address it could, so no silo is there to
            // follow it on. Said at once, as any call's failure, rather than after a round of waiting.
            throw failure ?? new RpcException(new Status(StatusCode.Unavailable, "the stream ended before its first event"));
        }

        var what = failure switch
        {
            null => $"the stream from {addresses.Current} ended before the job did (the silo drains)",
            // One address: the stream's own, which broke; several: the rotation found none to start it on.
            SchedulerUnreachableException { Tried: [var (address, broke)] } => $"{address}: {broke.StatusCode}: {SchedulerUnreachableException.Detail(broke.Status)}",
            SchedulerUnreachableException => $"{failure.StatusCode}: {failure.Status.Detail}",
            _ => $"{addresses.Current}: {failure.StatusCode}: {SchedulerUnreachableException.Detail(failure.Status)}",
        };
        addresses.MoveOn();
        tokens.Note($"schedctl: job {job.JobId}: {what}; following it from token {firstToken + job.TokenCount} on {addresses.Current}");
    }

    // The address and key are not repeated (the key must never be printed): a hint copied without the --key it was
    // given with read NOT_FOUND, the job being another tenant's to the default key.
    private static string RunsOn(JobResultBuilder job, int firstToken) =>
        $"Job {job.JobId} runs on: 'schedctl watch {job.JobId} --from-token {firstToken + job.TokenCount}' with the same address and key follows it";
}
