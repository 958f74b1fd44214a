using Grpc.Core;
using Scheduler.Protos.V1;

namespace Scheduler.Client;

/// <summary>
/// Runs jobs against a scheduler of several silos and rides out the loss of any of them: when the stream breaks or
/// its silo drains, it reconnects to the next silo and resumes with <c>WatchJob</c> from the first token it has
/// not received, so the caller sees every token exactly once. A submission that may not have arrived is repeated
/// with the same idempotency key (one is generated when the request has none), so it never creates a second job.
/// </summary>
public sealed class FailoverJobRunner : IJobRunner
{
    private readonly SchedulerClient[] _silos;
    private int _current;

    /// <summary>Opens a channel to each silo; the runner owns them.</summary>
    /// <param name="addresses">The silos' gRPC addresses, e.g. "http://10.0.0.1:5000".</param>
    /// <param name="apiKey">The tenant's API key.</param>
    /// <param name="trustedCaPath">PEM file of the CA that signed https silos' certificates; null trusts the system's CAs.</param>
    public FailoverJobRunner(IEnumerable<string> addresses, string apiKey, string? trustedCaPath = null)
    {
        _silos = Failover.Open(addresses, apiKey, trustedCaPath);
    }

    /// <inheritdoc />
    public async Task<JobResult> RunAsync(
        SubmitJobRequest request, Action<TokenChunk>? onTokens = null, DateTime? deadline = null, CancellationToken cancellationToken = default)
    {
        request = Failover.Keyed(request);
        var builder = new JobResultBuilder();
        var reconnects = 0;
        var backoff = Failover.InitialBackoff;
        while (true)
        {
            var silo = _silos[_current];
            var events = builder.JobId.Length == 0
                ? silo.StreamAsync(request, deadline, cancellationToken)
                : silo.WatchAsync(builder.JobId, builder.TokenCount, deadline, cancellationToken);
            var received = builder.EventCount;
            try
            {
                await builder.ReadAsync(events, onTokens);
                if (builder.IsTerminal)
                {
                    return builder.Build() with { Reconnects = reconnects };
                }

                // The silo ended the stream before the job ended: it is draining.
            }
            catch (RpcException ex) when (Failover.IsTransient(ex.StatusCode) && !cancellationToken.IsCancellationRequested)
            {
                // The silo died or is unreachable: the job lives on in the cluster.
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.DeadlineExceeded && deadline is not null)
            {
                // The call's own deadline passed: say which job, and how far it got.
                throw Failover.DeadlinePassed(builder, reconnects);
            }

            if (builder.EventCount > received)
            {
                // The silo answered before it failed: start the backoff over.
                backoff = Failover.InitialBackoff;
            }

            if (deadline is { } d && DateTime.UtcNow >= d)
            {
                throw Failover.DeadlinePassed(builder, reconnects);
            }

            reconnects++;
            _current = (_current + 1) % _silos.Length;
            await Task.Delay(backoff, cancellationToken);
            backoff = Failover.Next(backoff);
        }
    }

    /// <summary>Closes every channel.</summary>
    public void Dispose()
    {
        foreach (var silo in _silos)
        {
            silo.Dispose();
        }
    }
}
