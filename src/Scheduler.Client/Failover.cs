using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Client;

/// <summary>What <see cref="FailoverJobRunner"/> and <see cref="MultiplexedJobRunner"/> share: which failures another
/// silo can fix, how long to wait before trying it, and how a job's deadline passing is told.</summary>
internal static class Failover
{
    public static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

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
    public static bool IsTransient(StatusCode status) =>
        status is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled or StatusCode.Aborted;

    /// <summary>The pause after <paramref name="backoff"/>: doubled, at most a second.</summary>
    public static TimeSpan Next(TimeSpan backoff) => TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));

    public static RpcException DeadlinePassed(JobResultBuilder builder, int reconnects) => new(new Status(
        StatusCode.DeadlineExceeded,
        builder.JobId.Length == 0
            ? $"the job was not accepted before the deadline ({reconnects} reconnects)"
            : $"job {builder.JobId} did not finish before the deadline ({builder.TokenCount} tokens received, {reconnects} reconnects)"));
}
