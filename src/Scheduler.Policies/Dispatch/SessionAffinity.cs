using Scheduler.Policies.Placement;

namespace Scheduler.Policies.Dispatch;

/// <summary>
/// Where each session's last job ran, so its next one goes there too while that replica takes it and meets its TTFT
/// objective: affinity for clients that do not resend their prompts (a stateful conversation), which the prefix index
/// cannot see. Bounded: past <see cref="Capacity"/> sessions the least recently placed is forgotten.
/// </summary>
internal sealed class SessionAffinity
{
    public const int Capacity = 100_000;

    private readonly Dictionary<string, LinkedListNode<(string Session, string Replica)>> _bySession = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Session, string Replica)> _recent = new();

    public int Count => _bySession.Count;

    /// <summary>The session's replica, when it is in <paramref name="replicas"/>, takes the job in this round and is
    /// predicted to meet its objective; else null.</summary>
    public ReplicaView? Preferred(JobDemand job, ReplicaSet replicas)
    {
        if (job.SessionId is not { } session || !_bySession.TryGetValue(session, out var node)
            || !replicas.TryGetValue(node.Value.Replica, out var replica) || !replicas.TakesJob(replica, job))
        {
            return null;
        }

        return ReplicaPrediction.TtftMs(replica, job) <= job.TtftObjectiveMs ? replica : null;
    }

    /// <summary>Remembers that the job's session last ran on <paramref name="replica"/>.</summary>
    public void Placed(JobDemand job, ReplicaView replica)
    {
        if (job.SessionId is not { } session)
        {
            return;
        }

        // A known session's node moves to the front and is reused: a placement allocates nothing for it.
        if (_bySession.TryGetValue(session, out var node))
        {
            _recent.Remove(node);
            node.Value = (session, replica.ReplicaId);
            _recent.AddFirst(node);
            return;
        }

        if (_bySession.Count >= Capacity && _recent.Last is { } oldest)
        {
            _recent.RemoveLast();
            _bySession.Remove(oldest.Value.Session);
        }

        _bySession.Add(session, _recent.AddFirst((session, replica.ReplicaId)));
    }
}
