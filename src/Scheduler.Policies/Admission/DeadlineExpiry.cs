using Scheduler.Policies.Placement;
using Scheduler.Policies.Profiles;

namespace Scheduler.Policies.Admission;

/// <summary>
/// Finds queued jobs that can no longer make their deadline, so they expire instead of running. A job is tracked
/// with the latest moment it may still start: its deadline minus the fastest service the fleet could give it (its
/// prefill and every output token on an idle replica of the fastest accelerator serving the model). Past that
/// moment, now + predicted time &gt; deadline on every replica, however the queue moves. The estimate is deliberately
/// optimistic: a job is never expired while an idle replica could still finish it in time.
/// Plain code with no clock of its own: the owner passes the time (an injected <see cref="TimeProvider"/>).
/// </summary>
public sealed class DeadlineExpiry
{
    private readonly PriorityQueue<string, DateTimeOffset> _byLatestStart = new();
    private readonly Dictionary<string, DateTimeOffset> _latestStart = new(StringComparer.Ordinal);

    // One idle view per accelerator profile: the predictions of an empty batch, without touching live views.
    private readonly Dictionary<AcceleratorProfile, ReplicaView> _idle = [];

    /// <summary>Jobs tracked (queued with a deadline).</summary>
    public int Count => _latestStart.Count;

    /// <summary>Tracks a queued job that has a deadline; a job without one is ignored. <paramref name="replicas"/> are
    /// the model's replicas now; with none, the job expires only once its deadline itself has passed.</summary>
    public void Track(JobDemand job, IEnumerable<ReplicaView> replicas)
    {
        if (job.Deadline is not { } deadline)
        {
            return;
        }

        var latestStart = deadline - FastestService(job, replicas);
        _latestStart[job.JobId] = latestStart;
        _byLatestStart.Enqueue(job.JobId, latestStart);
    }

    /// <summary>Stops tracking a job (it was admitted, cancelled or expired).</summary>
    public void Forget(string jobId) => _latestStart.Remove(jobId);

    /// <summary>When the next tracked job expires, if any is tracked.</summary>
    public DateTimeOffset? NextExpiry => SkipStale() && _byLatestStart.TryPeek(out _, out var at) ? at : null;

    /// <summary>Removes and returns the jobs that can no longer make their deadline at <paramref name="now"/>.</summary>
    public List<string>? TakeExpired(DateTimeOffset now)
    {
        List<string>? expired = null;
        while (SkipStale() && _latestStart[_byLatestStart.Peek()] < now)
        {
            var jobId = _byLatestStart.Dequeue();
            _latestStart.Remove(jobId);
            (expired ??= []).Add(jobId);
        }

        return expired;
    }

    /// <summary>The fastest a job could be served on any schedulable replica: on an idle one, prefill then every
    /// output token at the batch-of-one step time.</summary>
    public TimeSpan FastestService(JobDemand job, IEnumerable<ReplicaView> replicas)
    {
        var best = double.PositiveInfinity;
        foreach (var replica in replicas)
        {
            if (!replica.Schedulable)
            {
                continue;
            }

            if (!_idle.TryGetValue(replica.Profile, out var idle))
            {
                idle = new ReplicaView("idle", "idle", "idle", replica.Profile, maxSequences: 1, kvCapacityTokens: long.MaxValue);
                _idle[replica.Profile] = idle;
            }

            best = Math.Min(best, ReplicaPrediction.TtftMs(idle, job) + (job.MaxTokens * ReplicaPrediction.TimePerOutputTokenMs(idle)));
        }

        return double.IsPositiveInfinity(best) ? TimeSpan.Zero : TimeSpan.FromMilliseconds(best);
    }

    // Heap entries of jobs no longer tracked (or tracked again with another time) are dropped lazily.
    private bool SkipStale()
    {
        while (_byLatestStart.TryPeek(out var id, out var at))
        {
            if (_latestStart.TryGetValue(id, out var current) && current == at)
            {
                return true;
            }

            _byLatestStart.Dequeue();
        }

        return false;
    }
}
