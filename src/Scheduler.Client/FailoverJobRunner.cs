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
    public Task<JobResult> RunAsync(
        SubmitJobRequest request, Action<TokenChunk>? onTokens = null, DateTime? deadline = null, CancellationToken cancellationToken = default)
    {
        request = Failover.Keyed(request);
        return Failover.RunAsync(Attempt, onTokens, deadline, cancellationToken);

        // A job not yet accepted is submitted (again: its idempotency key finds the first one's job), an accepted one
        // followed from its next token; a failed try moves to the next silo.
        Failover.Attempt Attempt(JobResultBuilder job, CancellationToken wait)
        {
            var silo = _silos[_current];
            var events = job.JobId.Length == 0
                ? silo.StreamAsync(request, deadline, wait)
                : silo.WatchAsync(job.JobId, job.TokenCount, deadline, wait);
            return new(events, _ => _current = (_current + 1) % _silos.Length);
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
