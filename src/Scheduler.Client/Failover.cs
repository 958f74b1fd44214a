using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Client;

/// <summary>What <see cref="FailoverJobRunner"/> and <see cref="MultiplexedJobRunner"/> share: the loop of a job's tries,
/// which failures another silo can fix, how long to wait before trying it, and how a job's deadline passing is told.</summary>
internal static class Failover
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs one job's tries until it ends: <paramref name="next"/> gives each try's events (a submission, or a job
    /// followed from its next token) and what to do if the try fails (move to another silo). A try fails when its stream
    /// breaks with a status a silo failure or drain produces, or ends before the job did (the silo drains); the next one
    /// comes after a backoff that starts over whenever a try got an event. Errors retrying cannot fix propagate, and so
    /// does UNAVAILABLE once <paramref name="maxTriesWithoutEvent"/> tries in a row got no event.
    /// </summary>
    public static async Task<JobResult> RunAsync(
        Func<JobResultBuilder, CancellationToken, Attempt> next,
        Action<TokenChunk>? onTokens,
        DateTime? deadline,
        CancellationToken cancellationToken,
        int maxTriesWithoutEvent = int.MaxValue)
    {
        using var giveUp = new CancellationTokenSource();
        if (deadline is { } d)
        {
            giveUp.CancelAfter(d <= DateTime.UtcNow ? TimeSpan.Zero : d - DateTime.UtcNow);
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, giveUp.Token);
        var builder = new JobResultBuilder();
        var reconnects = 0;
        var triesWithoutEvent = 0;
        var backoff = InitialBackoff;
        while (true)
        {
            var attempt = next(builder, wait.Token);
            var received = builder.EventCount;
            RpcException? failure = null;
            try
            {
                await builder.ReadAsync(attempt.Events, onTokens);
                if (builder.IsTerminal)
                {
                    return builder.Build() with { Reconnects = reconnects };
                }

                // The silo ended the stream before the job ended: it is draining.
            }
            catch (RpcException ex) when (IsTransient(ex.StatusCode) && !wait.IsCancellationRequested)
            {
                // The silo died, drains, or failed the submission for a moment: the job lives on in the cluster.
                failure = ex;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.DeadlineExceeded && deadline is not null)
            {
                // The call's own deadline passed: say which job, and how far it got.
                throw DeadlinePassed(builder, reconnects);
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException && giveUp.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // The deadline cancelled the try (a gRPC call cancelled by a token ends CANCELLED, a channel's read throws).
                throw DeadlinePassed(builder, reconnects);
            }

            if (builder.EventCount > received)
            {
                // The silo answered before it failed: start the backoff over.
                backoff = InitialBackoff;
                triesWithoutEvent = 0;
            }
            else if (++triesWithoutEvent >= maxTriesWithoutEvent)
            {
                throw GaveUp(builder, triesWithoutEvent, reconnects, failure);
            }

            if (deadline is { } end && DateTime.UtcNow >= end)
            {
                throw DeadlinePassed(builder, reconnects);
            }

            attempt.Failed(failure);
            reconnects++;
            await Task.Delay(backoff, cancellationToken);
            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
        }
    }

    /// <summary>A client per silo, in the order given.</summary>
    public static SchedulerClient[] Open(IEnumerable<string> addresses, string apiKey, string? trustedCaPath)
    {
        SchedulerClient[] silos = [.. addresses.Select(a => new SchedulerClient(a, apiKey, trustedCaPath))];
        return silos.Length > 0 ? silos : throw new ArgumentException("At least one scheduler address is needed.", nameof(addresses));
    }

    /// <summary>The request with an idempotency key: its own, or a new one on a copy, so that a submission repeated on
    /// another silo finds the job the first one made instead of making a second.</summary>
    public static SubmitJobRequest Keyed(SubmitJobRequest request)
    {
        if (!string.IsNullOrEmpty(request.IdempotencyKey))
        {
            return request;
        }

        var keyed = request.Clone();
        keyed.IdempotencyKey = Guid.NewGuid().ToString("N");
        return keyed;
    }

    /// <summary>Statuses a silo failure or drain produces; anything else is the request's own fault.</summary>
    private static bool IsTransient(StatusCode status) =>
        status is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled or StatusCode.Aborted;

    private static RpcException DeadlinePassed(JobResultBuilder builder, int reconnects) => new(new Status(
        StatusCode.DeadlineExceeded,
        builder.JobId.Length == 0
            ? $"the job was not accepted before the deadline ({reconnects} reconnects)"
            : $"job {builder.JobId} did not finish before the deadline ({builder.TokenCount} tokens received, {reconnects} reconnects)"));

    private static RpcException GaveUp(JobResultBuilder builder, int tries, int reconnects, RpcException? last) => new(new Status(
        StatusCode.Unavailable,
        (builder.JobId.Length == 0 ? "the job was not accepted" : $"job {builder.JobId} could not be followed") +
        $": {tries} tries in a row got no event ({builder.TokenCount} tokens received, {reconnects} reconnects); the last " +
        (last is null ? "ended its stream before the job ended" : $"failed with {last.StatusCode}: {last.Status.Detail}"),
        last?.Status.DebugException));

    /// <summary>One try of a job: its events, and what to do when the try fails before the job ends — given the failure,
    /// or null when the stream ended before the job did (its silo drains).</summary>
    public readonly record struct Attempt(IAsyncEnumerable<JobEvent> Events, Action<RpcException?> Failed);
}
