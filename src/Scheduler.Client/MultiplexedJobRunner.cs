using Scheduler.Protos.V1;

namespace Scheduler.Client;

/// <summary>
/// Runs many jobs at once over one <c>StreamJobs</c> call — the call a gateway or a batch runner keeps open, where a
/// job reaches its first token sooner and costs less than with a call of its own — to a scheduler of several silos,
/// and rides out the loss of any of them as <see cref="FailoverJobRunner"/> does: when the call breaks or its silo
/// drains, the next submission opens a call to the next silo; a job already accepted follows its stream there with
/// <c>WatchJob</c> from the first token it has not received, and one not yet accepted is submitted again with the same
/// idempotency key (one is generated when the request has none), so it never becomes a second job. Safe to call from
/// many threads at once; each job sees every token exactly once.
/// </summary>
public sealed class MultiplexedJobRunner : IJobRunner
{
    private readonly SchedulerClient[] _silos;
    private readonly Lock _sync = new();
    private JobsCall? _call;
    private int _current;
    private bool _disposed;

    /// <summary>Opens a channel to each silo; the runner owns them. No call is made before the first job.</summary>
    /// <param name="addresses">The silos' gRPC addresses, e.g. "http://10.0.0.1:5000"; the first is tried first.</param>
    /// <param name="apiKey">The tenant's API key.</param>
    /// <param name="trustedCaPath">PEM file of the CA that signed https silos' certificates; null trusts the system's CAs.</param>
    public MultiplexedJobRunner(IEnumerable<string> addresses, string apiKey, string? trustedCaPath = null)
    {
        _silos = Failover.Open(addresses, apiKey, trustedCaPath);
    }

    /// <inheritdoc />
    public Task<JobResult> RunAsync(
        SubmitJobRequest request, Action<TokenChunk>? onTokens = null, DateTime? deadline = null, CancellationToken cancellationToken = default)
    {
        request = Failover.Keyed(request);

        // Where an accepted job's stream is followed once its call broke: silos in turn, from the one after the call's.
        int? following = null;
        return Failover.RunAsync(Attempt, onTokens, deadline, cancellationToken);

        Failover.Attempt Attempt(JobResultBuilder job, CancellationToken wait)
        {
            if (following is { } silo)
            {
                return new(_silos[silo].WatchAsync(job.JobId, job.TokenCount, deadline, wait), _ => following = (silo + 1) % _silos.Length);
            }

            var call = Current();
            return new(call.Submit(request, wait), _ =>
            {
                // A refusal that is only UNAVAILABLE, on a call that still works, is tried again on the same call.
                if (call.IsBroken)
                {
                    Abandon(call);
                    following = job.JobId.Length > 0 ? (call.SiloIndex + 1) % _silos.Length : null;
                }
            });
        }
    }

    /// <summary>Ends the shared call (its jobs run on) and closes every channel.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            _disposed = true;
            _call?.Dispose();
            _call = null;
        }

        foreach (var silo in _silos)
        {
            silo.Dispose();
        }
    }

    /// <summary>The call jobs are submitted on: the open one, or a new one to the current silo.</summary>
    private JobsCall Current()
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _call ??= new JobsCall(_silos[_current], _current);
        }
    }

    /// <summary>Drops a broken call; the first job to notice moves the runner on to the next silo.</summary>
    private void Abandon(JobsCall call)
    {
        lock (_sync)
        {
            if (_call != call)
            {
                return;
            }

            _call = null;
            _current = (call.SiloIndex + 1) % _silos.Length;
        }

        call.Dispose();
    }
}
