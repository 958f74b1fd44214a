using Scheduler.Policies.Placement;

namespace Scheduler.Policies.Dispatch;

/// <summary>
/// Where each session's last job ran, so its next one goes there too while that replica takes it and meets its TTFT
/// objective: affinity for clients that do not resend their prompts (a stateful conversation), which the prefix index
/// cannot see. When that replica is full, the job waits for it a while rather than rebuild the session's context
/// elsewhere (<see cref="WaitFor"/>: delay scheduling, as for data locality). It also counts, on each replica, the
/// contexts of the sessions placed there within <see cref="LiveFor"/> (<see cref="ReplicaView.LiveSessionTokens"/>): what
/// their next turns expect to find in its cache, which a new session placed there would take room from. Bounded: past
/// <see cref="Capacity"/> sessions the least recently placed is forgotten. A session is its tenant's: two tenants naming
/// theirs alike ("chat-1", a counter) are two conversations, and neither steers the other's jobs.
/// </summary>
internal sealed class SessionAffinity
{
    public const int Capacity = 100_000;

    /// <summary>How long after its last job a session's context counts as live on its replica: 30 s, chosen by measurement
    /// on the simulator's multi-turn chats (20 s mean between turns): 20 s let new conversations take the room of ones
    /// that came back (82% of the oracle's hits at once a second), 40 s and more kept the room of ended ones from new
    /// conversations (p90 first token ×4.2–4.9 instead of ×5; docs/benchmarks.md, issue 14 "Ninth round").</summary>
    public static readonly TimeSpan LiveFor = TimeSpan.FromSeconds(30);

    private readonly Dictionary<SessionKey, LinkedListNode<LastPlacement>> _bySession = [];

    // Sessions placed within LiveFor, most recently placed first: each counts its context on its replica
    // (ReplicaView.LiveSessionTokens). The others, idle, are only remembered for affinity, least recently placed last.
    private readonly LinkedList<LastPlacement> _live = new();
    private readonly LinkedList<LastPlacement> _idle = new();

    public int Count => _bySession.Count;

    /// <summary>The session's replica, when it is in <paramref name="replicas"/>, takes the job in this round and is
    /// predicted to meet its objective, counting the wait a metered replica's rate limits would impose as cost-aware
    /// placement does (<see cref="ReplicaView.RateLimitWaitMs"/>); else null.</summary>
    /// <remarks>Without the rate-limit wait a metered holder kept its sessions' turns while its provider's limits held
    /// them: in the simulator's `hetero` fleet at three times the multi-turn and agent rates, turns waited up to 24 s in
    /// the limiter and set the p99 first token at 5.6–13.5 s. Counting it costs about a point of cache hits (a turn that
    /// leaves recomputes its context elsewhere) and brings the p99 to about 1 s (docs/benchmarks.md, issue 14 "Eleventh
    /// round"). An earlier trial (2026-12-04), before the holder wait and the session price, had tipped the loaded
    /// multi-turn rows into losing most contexts; it no longer does.</remarks>
    public ReplicaView? Preferred(JobDemand job, ReplicaSet replicas) =>
        HolderOf(job, replicas) is { } replica && replicas.TakesJob(replica, job)
            && ReplicaPrediction.TtftMs(replica, job) + replica.RateLimitWaitMs(job) <= job.TtftObjectiveMs
            ? replica
            : null;

    /// <summary>
    /// How <paramref name="job"/> waits for its session's replica, which has no room for it in this round: null when it
    /// does not wait — it has no session, the replica is unknown, gone, closed to new work or could never hold it, the
    /// replica takes it now, or the wait is over. It waits while its whole prompt could still be prefilled within its
    /// TTFT objective on an idle replica of the holder's kind (<see cref="WaitEnd"/>), then the policy places it.
    /// </summary>
    /// <remarks>
    /// Without the wait a full holder sent the turn elsewhere, where its recompute filled that replica too, and a loaded
    /// fleet could tip into losing most contexts (the simulator's multi-turn chats at three times their rate: one seed in
    /// ten held 79% of the oracle's hits with a fixed wait of half the objective, 91% with this one; docs/benchmarks.md,
    /// issue 14 "Seventh round").
    /// </remarks>
    public HolderWait? WaitFor(JobDemand job, ReplicaSet replicas, DateTimeOffset now)
    {
        if (HolderOf(job, replicas) is not { } replica || !replica.Schedulable || !replica.CanEverHold(job)
            || replicas.TakesJob(replica, job))
        {
            return null;
        }

        var until = WaitEnd(job, replica, replicas);
        return now < until ? new HolderWait(job, replica.ReplicaId, until) : null;
    }

    /// <summary>
    /// When a job stops waiting for its session's full <paramref name="holder"/>: its TTFT objective less the time an idle
    /// replica of the holder's kind takes to prefill the whole prompt, which is what going elsewhere then costs at best.
    /// A metered holder's room comes back as its provider's rate limits allow, and its fallback is a replica of another
    /// kind: the slowest kind in <paramref name="replicas"/> is counted instead.
    /// </summary>
    internal static DateTimeOffset WaitEnd(JobDemand job, ReplicaView holder, ReplicaSet replicas)
    {
        var fallbackMs = holder.Profile.IsMetered
            ? replicas.SlowestIdleTtftMs(job.PromptTokens)
            : ReplicaPrediction.IdleTtftMs(holder.Profile, job.PromptTokens);
        return job.EnqueuedAt.AddMilliseconds(Math.Max(0, job.TtftObjectiveMs - fallbackMs));
    }

    /// <summary>Remembers that the job's session last ran on <paramref name="replica"/>, at <paramref name="now"/>: its
    /// context counts there as a live session's until <see cref="LiveFor"/> passes without another of its jobs.</summary>
    public void Placed(JobDemand job, ReplicaView replica, DateTimeOffset now)
    {
        if (SessionKey.Of(job) is not { } session)
        {
            return;
        }

        // A known session's node moves to the front and is reused: a placement allocates nothing for it.
        if (_bySession.TryGetValue(session, out var node))
        {
            Unlink(node);
        }
        else
        {
            if (_bySession.Count >= Capacity && (_idle.Last ?? _live.Last) is { } oldest)
            {
                Unlink(oldest);
                _bySession.Remove(oldest.Value.Session);
            }

            node = new LinkedListNode<LastPlacement>(new LastPlacement(session));
            _bySession.Add(session, node);
        }

        node.Value.Replica = replica;
        node.Value.Tokens = job.PromptTokens;
        node.Value.At = now;
        replica.LiveSessionTokens += job.PromptTokens;
        _live.AddFirst(node);
    }

    /// <summary>Stops counting the contexts of sessions placed longer than <see cref="LiveFor"/> before
    /// <paramref name="now"/> as live on their replicas; they are still remembered for affinity.</summary>
    public void Expire(DateTimeOffset now)
    {
        var since = now - LiveFor;
        while (_live.Last is { } oldest && oldest.Value.At < since)
        {
            Unlink(oldest);
            _idle.AddFirst(oldest);
        }
    }

    private void Unlink(LinkedListNode<LastPlacement> node)
    {
        if (node.List == _live)
        {
            node.Value.Replica.LiveSessionTokens -= node.Value.Tokens;
        }

        node.List?.Remove(node);
    }

    /// <summary>The replica the job's session last ran on, while it is in <paramref name="replicas"/>; null for a job
    /// without a session, or a session not known or whose replica is gone.</summary>
    private ReplicaView? HolderOf(JobDemand job, ReplicaSet replicas) =>
        SessionKey.Of(job) is { } session && _bySession.TryGetValue(session, out var node) && replicas.TryGetValue(node.Value.Replica.ReplicaId, out var replica)
            ? replica
            : null;

    /// <summary>Where a session last ran, with the context it left there and when.</summary>
    private sealed class LastPlacement(SessionKey session)
    {
        public SessionKey Session { get; } = session;

        public ReplicaView Replica { get; set; } = null!;

        public long Tokens { get; set; }

        public DateTimeOffset At { get; set; }
    }

    /// <summary>A session as its tenant named it: session ids are the tenants' own, and unique only within a tenant.</summary>
    private readonly record struct SessionKey(string TenantId, string SessionId)
    {
        public static SessionKey? Of(JobDemand job) => job.SessionId is { } session ? new SessionKey(job.TenantId, session) : null;
    }
}
