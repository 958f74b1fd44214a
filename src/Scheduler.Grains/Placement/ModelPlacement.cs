using System.Collections.ObjectModel;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Policies;
using Scheduler.Policies.Admission;
using Scheduler.Policies.Capacity;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Fairness;
using Scheduler.Policies.Placement;

namespace Scheduler.Grains.Placement;

/// <summary>
/// Continuous batching and cost-aware dispatch for one model, as plain code its <see cref="PlacementGrain"/> wraps:
/// the model's queue in fair order and every replica's running batch (a <see cref="Dispatcher"/>), the jobs it holds,
/// the stream each replica is reached through (<see cref="ReplicaLinks"/>), <see cref="RejectionHolds"/> and deadline
/// expiry. Every event that frees or adds capacity runs an admission round: jobs are taken in fair order and admitted
/// into whichever replica the placement policy picks, as long as any replica has a free slot and KV room for them —
/// never past either. It tells nobody anything itself: each command returns what the grain must tell others (an
/// <see cref="AdmissionRound"/>, a <see cref="CancelDecision"/>), and time is read on the injected clock only. The
/// persisted replicas are changed here and written by the grain.
/// </summary>
internal sealed partial class ModelPlacement(string model, PlacementState persisted, PlacementOptions options, TimeProvider time, ILogger logger)
{
    private readonly Dispatcher _dispatcher = Dispatcher.Create(options.PlacementPolicy, options.FairnessPolicy, options.BatchingPolicy, recordWeighedReplicas: true, maxPreemptions: options.MaxPreemptions, maxDecodeDeferrals: options.MaxDecodeDeferrals, contendedPrefillTokens: options.ContendedPrefillTokens, time: time,
        placementSettings: new PlacementSettings { WaitCostUsdPerSecond = options.WaitCostUsdPerSecond, SessionWaitCostUsdPerSecond = options.SessionWaitCostUsdPerSecond },
        setAsideWithinClassAfter: options.SetAsideWithinClassAfter);
    private readonly Dictionary<string, PlacedJob> _jobs = new(StringComparer.Ordinal);
    private readonly TenantWeights _weights = new();
    private readonly DeadlineExpiry _expiry = new();
    private readonly ReplicaLinks _links = new();
    private readonly RejectionHolds _holds = new(options.RejectionHold);
    private readonly WaitLog _waits = new();
    private readonly DemandWindow _demand = new(options.Capacity.Window, options.Capacity.PeakLookback);
    private readonly CapacityPolicy _capacity = new(
        options.Capacity.TargetUtilisation, options.Capacity.AttainmentObjective,
        burstUtilisation: options.Capacity.BurstUtilisation, warmFloor: options.Capacity.WarmFloor);

    // What the next admission round reports: jobs ended in the queue, and the tickets of jobs that went back to the
    // queue from a replica, to journal with their counts and where they resume.
    private readonly List<EndedJob> _ended = [];
    private readonly List<JobTicket> _requeued = [];

    // When the first of the jobs the last round left waiting for their session's replica stops waiting.
    private DateTimeOffset? _sessionWaitsEnd;

    // Jobs that finished on their replicas a moment ago: their node links are settling them (EnsureQueued).
    private readonly RecentJobIds _finished = new(RecentlyFinishedKept);

    // Jobs that finished whose records storage refused: their node links write them again, and this writes them should
    // their streams die first.
    private readonly UnrecordedEnds _unrecorded = new();

    /// <summary>How many finished jobs the placement remembers, to refuse queuing one again before its record settled.</summary>
    internal const int RecentlyFinishedKept = 4096;

    // How many jobs a rebuild after a failover found running on live streams, and queued again (RestoreJobs).
    private int _resumed, _requeuedOnRecovery;

    /// <summary>
    /// Restores the model after a failover, as <see cref="RecoveryPlanner"/> decided, in three steps a caller takes in
    /// order — this one, then <see cref="RestoreJobs"/> for the plan's jobs in pages, then <see cref="EndRecovery"/>:
    /// a large journal is restored page by page, its grain yielding its thread between pages. This step brings back
    /// the persisted replicas, off unless a live stream vouched for them (and their accelerator is on).
    /// </summary>
    public void RestoreReplicas(IEnumerable<LiveReplica> liveReplicas)
    {
        foreach (var r in persisted.Replicas.Values)
        {
            var view = ViewOf(r);
            view.Schedulable = false;
            _dispatcher.Replicas[r.ReplicaId] = view;
        }

        foreach (var (replicaId, linkId) in liveReplicas)
        {
            _links.Bind(replicaId, linkId);
            _dispatcher.Replicas[replicaId].Schedulable = !persisted.Unschedulable.Contains(replicaId);
        }
    }

    /// <summary>Restores some of a recovery plan's jobs, the next in the plan's (arrival) order: jobs a live stream runs
    /// hold their place on it; the others are queued again. Each costs the same however many were restored before.</summary>
    public void RestoreJobs(IEnumerable<RecoveredJob> jobs)
    {
        var now = time.GetUtcNow();
        foreach (var (ticket, wasAdmitted, resumeOn) in jobs)
        {
            var job = new PlacedJob(ticket) { WasAdmitted = wasAdmitted };
            _jobs[ticket.JobId] = job;
            if (resumeOn is not null)
            {
                var replica = _dispatcher.Replicas[resumeOn];
                replica.Admit(job.Demand);
                replica.PrefillDone(job.Demand.JobId);
                job.RunningOn = replica;
                job.Trace.Add(new JobTraceEvent(JobTraceKind.Recovered, now, $"placement rebuilt after a silo failure; still running on {resumeOn}, whose stream lived on"));
                _resumed++;
            }
            else
            {
                Queue(job, now);
                job.Trace.Add(new JobTraceEvent(JobTraceKind.Recovered, now, "placement rebuilt after a silo failure; queued again from the job journal",
                    QueuePosition: Math.Max(0, _dispatcher.Queue.PositionOf(ticket.JobId))));
                _requeuedOnRecovery++;
            }
        }
    }

    /// <summary>Ends a rebuild after a failover (<see cref="RestoreReplicas"/>): runs an admission round.</summary>
    public AdmissionRound EndRecovery()
    {
        LogRecovered(logger, model, _dispatcher.Replicas.Count, _resumed, _requeuedOnRecovery);
        return AdmitWhatFits();
    }

    /// <summary>A tenant's weight changed at <paramref name="at"/> (its grain's clock, as its tickets' times): its queued
    /// jobs are served by it from the next pick on, and no job accepted before the change sets the old one back.</summary>
    public void SetTenantWeight(string tenantId, double weight, DateTimeOffset at)
    {
        if (_weights.IsLatest(tenantId, at))
        {
            _dispatcher.Queue.SetWeight(tenantId, weight);
        }
    }

    /// <summary>Queues a job and runs an admission round. Returns the job's queue position (0 = admitted or next) —
    /// a job already held here is queued once — or that a sheddable job was refused because the queue is at
    /// <see cref="PlacementOptions.OverloadQueueLength"/>; the round is null when none ran.</summary>
    public (EnqueueResult Result, AdmissionRound? Round) Enqueue(JobTicket ticket)
    {
        AdmissionRound? round = null;

        // A job that finished here may still be journaled — its record's write refused by storage and being retried, or
        // read from the journal by a resubmission just before it settled: one with its idempotency key must not run it
        // again (JobGrain.EnsureQueued). (Its node link tells this placement of a finish once the record holds it.)
        if (!_jobs.ContainsKey(ticket.JobId) && !_finished.Contains(ticket.JobId))
        {
            var overload = options.OverloadQueueLength;
            if (ticket.Request.Priority == JobPriority.Sheddable && overload > 0 && _dispatcher.Queue.Count >= overload)
            {
                return (new EnqueueResult(0, Shed: true), null);
            }

            var job = new PlacedJob(ticket);
            _jobs[ticket.JobId] = job;
            var now = time.GetUtcNow();
            _demand.Arrived(now, ticket.Request.PromptTokens, ticket.Request.MaxTokens, TimeSpan.FromMilliseconds(ticket.Request.TtftObjectiveMs));
            Queue(job, now);
            var position = Math.Max(0, _dispatcher.Queue.PositionOf(ticket.JobId));
            job.Trace.Add(new JobTraceEvent(JobTraceKind.Queued, now,
                $"queued at position {position} ({ticket.Request.Priority.ToString().ToLowerInvariant()}, {ticket.Request.PromptTokens}+{ticket.Request.MaxTokens} tokens, TTFT objective {ticket.Request.TtftObjectiveMs:0} ms)",
                QueuePosition: position));
            round = AdmitWhatFits();
        }

        return (new EnqueueResult(Math.Max(0, _dispatcher.Queue.PositionOf(ticket.JobId))), round);
    }

    /// <summary>
    /// Adds or refreshes replicas registered with execution stream <paramref name="linkId"/>; they become schedulable
    /// (a fresh stream to a fresh engine ends any hold) but those in <paramref name="closed"/>, whose accelerator is
    /// cordoned or draining: switched off here, not by a later call, or the round after this one would admit queued jobs
    /// to a cordoned replica. Jobs counted on a replica under an earlier stream went down with it: they go back to the
    /// front of the queue, resuming where their tickets say, and the ends whose records that stream's silo was still
    /// writing are written by the next round (<see cref="OnFinishedUnrecorded"/>); the replica's prefix index starts
    /// empty, as a restarted engine's cache does. Runs no round.
    /// </summary>
    /// <returns>True when the persisted replicas changed: the grain writes them before the next round.</returns>
    public bool UpsertReplicas(string linkId, ReplicaRegistration[] replicas, IReadOnlyCollection<string>? closed = null)
    {
        var changed = false;
        foreach (var r in replicas)
        {
            var previous = _links.LinkOf(r.ReplicaId);
            if (_links.Bind(r.ReplicaId, linkId) && _dispatcher.Replicas.TryGetValue(r.ReplicaId, out var existing))
            {
                WriteUnrecordedOf(previous);
                RequeueFrom(existing, CountedOn(existing),
                    "its node registered a new stream; the jobs counted under the old one went down with it");

                // As fresh an engine as the hold's end assumes: whatever its cache held is not counted on.
                existing.ForgetPrefixes();
            }

            _holds.End(r.ReplicaId);
            var open = closed?.Contains(r.ReplicaId) != true;
            changed |= open ? persisted.Unschedulable.Remove(r.ReplicaId) : persisted.Unschedulable.Add(r.ReplicaId);
            if (_dispatcher.Replicas.TryGetValue(r.ReplicaId, out var view) && persisted.Replicas.GetValueOrDefault(r.ReplicaId) == r)
            {
                view.Schedulable = open;
                continue;
            }

            if (view is null || view.RunningSequences == 0)
            {
                view = ViewOf(r);
                _dispatcher.Replicas[r.ReplicaId] = view;
            }

            view.Schedulable = open;
            persisted.Replicas[r.ReplicaId] = r;
            changed = true;
        }

        return changed;
    }

    /// <summary>
    /// Removes replicas whose node is forgotten. A job still counted on one goes back to the front of its queue first,
    /// resuming where its ticket says (the node's own hand-back, with the tokens it delivered, may not have arrived yet:
    /// naming a replica no longer known, it is then ignored; a client drops the tokens it is sent twice). Runs no round.
    /// </summary>
    /// <returns>True when the persisted replicas changed: the grain writes them before the next round.</returns>
    public bool RemoveReplicas(string[] replicaIds)
    {
        var changed = false;
        foreach (var replicaId in replicaIds)
        {
            if (_dispatcher.Replicas.TryGetValue(replicaId, out var replica))
            {
                RequeueFrom(replica, CountedOn(replica),
                    "its node left and was forgotten");
                _dispatcher.Replicas.Remove(replicaId);
            }

            WriteUnrecordedOf(_links.LinkOf(replicaId));
            _links.Forget(replicaId);
            _holds.End(replicaId);
            changed |= persisted.Unschedulable.Remove(replicaId);
            changed |= persisted.Replicas.Remove(replicaId);
        }

        return changed;
    }

    public bool HasReplica(string replicaId) => _dispatcher.Replicas.TryGetValue(replicaId, out _);

    /// <summary>Switches a replica on or off (its accelerator's state or its node's connectivity changed). Runs no round.
    /// A replica held for a refusal stays off until its hold ends (<see cref="Reopen"/> then opens it as its
    /// accelerator's state says): opened at once, it took back the job it had just refused, and with its hold still
    /// recorded its next refusal held it no more, so a job could bounce there until <see cref="PlacementOptions.MaxHandBacks"/>
    /// failed it.</summary>
    /// <returns>True when the persisted replicas changed: the grain writes them before the next round.</returns>
    public bool SetSchedulable(string replicaId, bool schedulable)
    {
        if (!_dispatcher.Replicas.TryGetValue(replicaId, out var replica))
        {
            return false;
        }

        replica.Schedulable = schedulable && !_holds.IsHeld(replicaId);
        return schedulable ? persisted.Unschedulable.Remove(replicaId) : persisted.Unschedulable.Add(replicaId);
    }

    /// <summary>One engine step's news for a replica: prefills done, sequences finished (their tenants are refunded
    /// the output they did not generate, and a hold on the replica ends), prompt blocks its engine's prefix cache evicted
    /// (forgotten by the replica's index after the prefills' prompts are stored, as the engine stored them before it
    /// evicted). Null when the replica is unknown: no round ran.</summary>
    public AdmissionRound? OnProgress(string replicaId, string[] prefilled, FinishedSequence[] finished, ulong[]? evictedPrefixBlocks = null)
    {
        if (!_dispatcher.Replicas.TryGetValue(replicaId, out var replica))
        {
            return null;
        }

        foreach (var jobId in prefilled)
        {
            if (_jobs.TryGetValue(jobId, out var job) && job.RunningOn == replica)
            {
                replica.PrefillDone(job.Demand.JobId);
                CountFirstToken(job);
            }
        }

        replica.ForgetPrefixBlocks(evictedPrefixBlocks);
        if (finished.Length > 0)
        {
            ReleaseHold(replicaId);
        }

        foreach (var done in finished)
        {
            Finish(replica, done);
        }

        return AdmitWhatFits();
    }

    /// <summary>
    /// Sequences that finished on a replica reached through stream <paramref name="linkId"/>, whose records storage
    /// refused to write: they leave the replica as finished ones do (<see cref="OnProgress"/>: the replica's slot and KV
    /// are free for the outage's length, not held), and their ends are kept under the stream until its silo says they
    /// landed (<see cref="ForgetUnrecorded"/>); should the stream die first, the next round settles them here. Null when
    /// the replica is unknown or the report names a stream it no longer uses (what ran under that one went back to the
    /// queue when the newer one came; the old silo's write, if it lands, is the end recorded first): no round ran.
    /// </summary>
    public AdmissionRound? OnFinishedUnrecorded(string replicaId, string linkId, UnrecordedFinish[] finished)
    {
        if (!_dispatcher.Replicas.TryGetValue(replicaId, out var replica) || _links.IsStale(replicaId, linkId))
        {
            return null;
        }

        if (finished.Length > 0)
        {
            ReleaseHold(replicaId);
        }

        var now = time.GetUtcNow();
        foreach (var (done, outcome) in finished)
        {
            if (Finish(replica, done) is { } job)
            {
                // Its watchers heard the end from its node link: none is told again when it is written here.
                var end = JobEventRecord.Terminal(done.JobId, outcome.Status, now, outcome.Usage, outcome.FinishReason, outcome.Error);
                _unrecorded.Keep(linkId, new EndedJob(job.Ticket, job.Placement, outcome, new JobAnnouncement([], end), job.Trace.ToArray()));
            }
        }

        return AdmitWhatFits();
    }

    /// <summary>The records of <paramref name="jobIds"/>, written by stream <paramref name="linkId"/>'s silo after
    /// storage refused them, landed: their ends are forgotten here. Runs no round (nothing frees).</summary>
    public void ForgetUnrecorded(string linkId, string[] jobIds) => _unrecorded.Forget(linkId, jobIds);

    /// <summary>A job finished on <paramref name="replica"/>: it leaves it (its tenant is refunded the output it did not
    /// generate), and is remembered as finished. Null when the replica did not hold it (a repeated or stale report).</summary>
    private PlacedJob? Finish(ReplicaView replica, FinishedSequence done)
    {
        // A sequence told to stop for another job may have finished before the stop reached it: it is done.
        var preemptedHere = _jobs.TryGetValue(done.JobId, out var stopped) && stopped.PreemptedFrom == replica;
        if (!(replica.Release(done.JobId) || preemptedHere) || !_jobs.Remove(done.JobId, out var job))
        {
            return null;
        }

        RefundUnused(job, done.CompletionTokens);
        _finished.Add(done.JobId);
        return job;
    }

    /// <summary>Stream <paramref name="linkId"/> is gone: the ends of its jobs whose records its silo was still writing
    /// are settled by the next round, here (that silo may be gone, its writes with it). True when there were some.</summary>
    private bool WriteUnrecordedOf(string? linkId)
    {
        var ends = _unrecorded.Take(linkId);
        if (ends.Count == 0)
        {
            return false;
        }

        _ended.AddRange(ends);
        LogWritingUnrecorded(logger, ends.Count, model, linkId!);
        return true;
    }

    /// <summary>Running jobs come back from a replica: to the front of their queues; <paramref name="reason"/> says what
    /// becomes of the replica. A job its engine failed (the sequence carries the engine's error) is counted, and fails
    /// with that error once it was handed back more than <see cref="PlacementOptions.MaxHandBacks"/> times. Null when
    /// the replica is unknown or the report names a stream it no longer uses (its jobs were handed back when the newer
    /// one was announced): nothing changed and no round ran.</summary>
    public AdmissionRound? Requeue(string replicaId, string? linkId, RequeuedSequence[] sequences, HandBack reason)
    {
        if (!_dispatcher.Replicas.TryGetValue(replicaId, out var replica) || _links.IsStale(replicaId, linkId))
        {
            return null;
        }

        RequeueFrom(replica, sequences, reason switch
        {
            HandBack.NodeLost => "its node was lost (stream broken or lease expired)",
            HandBack.Rejected => "its engine refused the sequence (it ran more than the placement counted)",
            HandBack.Preempted => "it was stopped to make room for a job with a better claim there (preemption)",
            _ => "its stream was closed by its owner",
        });
        if (reason is HandBack.NodeLost or HandBack.StreamClosed)
        {
            WriteUnrecordedOf(linkId);
        }

        switch (reason)
        {
            case HandBack.NodeLost:
                // Nothing more goes there until the node registers again — nor to the node's other replicas, whose
                // own hand-backs are on their way: the admission round below would send this one's jobs to them.
                // A stream closed by its owner says nothing of the kind, and may arrive after the node registered anew.
                foreach (var lost in linkId is null ? [replicaId] : _links.ReachedThrough(linkId).ToArray())
                {
                    _holds.End(lost);
                    if (_dispatcher.Replicas.TryGetValue(lost, out var view))
                    {
                        view.Schedulable = false;
                    }
                }

                break;
            case HandBack.Rejected:
                Hold(replica, sequences.Length);
                break;
        }

        return AdmitWhatFits();
    }

    /// <summary>
    /// The execution stream <paramref name="linkId"/> died with its silo, and its node's lease then lapsed (the node did
    /// not register again): no one is left to hand its jobs back. Every job counted on a replica still reached through it
    /// goes back to the front of its queue, resuming where its ticket says (the tokens the stream delivered are known only
    /// to the stream), and those replicas take nothing until their node registers again; the ends whose records that
    /// stream's silo was still writing are written here. Null when no replica is reached through that stream any more
    /// (the node registered anew, or a rebuilt placement never bound it) and no end was left to write: nothing changed
    /// and no round ran.
    /// </summary>
    public AdmissionRound? LoseLink(string linkId)
    {
        var replicas = _links.ReachedThrough(linkId)
            .Select(id => _dispatcher.Replicas.TryGetValue(id, out var view) ? view : null)
            .OfType<ReplicaView>()
            .ToArray();
        var writes = WriteUnrecordedOf(linkId);
        if (replicas.Length == 0)
        {
            return writes ? AdmitWhatFits() : null;
        }

        // All of them off before any job goes back: the round below must not send one lost replica's jobs to another.
        foreach (var replica in replicas)
        {
            _holds.End(replica.ReplicaId);
            replica.Schedulable = false;
        }

        foreach (var replica in replicas)
        {
            RequeueFrom(replica, CountedOn(replica),
                "its node was lost (its lease lapsed after the silo holding its stream failed)");

            // No stream reaches it now (a late report from the dead one is stale), and its node is no longer watched.
            _links.Forget(replica.ReplicaId);
        }

        return AdmitWhatFits();
    }

    /// <summary>The nodes whose leases this placement depends on: those of the replicas that take work, hold some, or are
    /// reached through a stream — a cordoned or draining node's too, though it runs nothing, so that its loss is seen
    /// and it does not read cordoned or draining for good. A node whose grain died with its silo is watched by nobody
    /// else when the node died too (<see cref="PlacementGrain"/> pokes these). A node found lost (<see cref="LoseLink"/>)
    /// is reached through no stream until it registers again.</summary>
    public IEnumerable<string> NodesToWatch() =>
        _dispatcher.Replicas.Values
            .Where(r => r.Schedulable || r.RunningSequences > 0 || _links.IsBound(r.ReplicaId))
            .Select(r => r.NodeId)
            .Distinct(StringComparer.Ordinal);

    public CancelDecision Cancel(string jobId)
    {
        if (!_jobs.TryGetValue(jobId, out var job))
        {
            return CancelDecision.NotFound;
        }

        if (_dispatcher.Queue.Remove(jobId))
        {
            _jobs.Remove(jobId);
            _expiry.Forget(jobId);
            var now = time.GetUtcNow();
            var cancelled = JobEventRecord.Terminal(jobId, JobStatus.Cancelled, now, usage: null, finishReason: null, error: null);
            return new CancelDecision(
                job.WasAdmitted ? CancelOutcome.CancelledWhileRequeued : CancelOutcome.CancelledWhileQueued,
                new EndedJob(job.Ticket, job.Placement, JobOutcome.CancelledInQueue(job.Ticket, now), new JobAnnouncement(job.Ticket.Watchers, cancelled), job.Trace.ToArray()),
                Placement: job.Placement);
        }

        if (job.PreemptedFrom is not null)
        {
            // Its node is stopping it already: it ends, cancelled, when handed back.
            job.CancelRequested = true;
            return new CancelDecision(CancelOutcome.CancellationRequested);
        }

        if (job.RunningOn is not { } replica)
        {
            return CancelDecision.NotFound;
        }

        // Its record shows it as cancelling until its node confirms; handed back meanwhile, it ends instead of resuming.
        job.CancelRequested = true;
        return new CancelDecision(CancelOutcome.CancellationRequested, StopOn: (replica.NodeId, replica.ReplicaId));
    }

    /// <summary>Adds a watcher to a job held here. A silo's hub watches once however many of its streams follow the
    /// job. Returns the job's ticket, now naming the watcher (a re-dispatch keeps it; the grain journals it so a rebuilt
    /// placement does too), or null when the job is neither queued nor running.</summary>
    public JobTicket? Watch(string jobId, IJobEventSink sink)
    {
        if (!_jobs.TryGetValue(jobId, out var job))
        {
            return null;
        }

        job.AddWatcher(sink);
        return job.Ticket;
    }

    /// <summary>Where a job is now; null when it is neither queued nor running (it ended).</summary>
    public JobLocation? Locate(string jobId) =>
        !_jobs.TryGetValue(jobId, out var job) ? null
        : job.RunningOn is { } replica ? new JobLocation(replica.NodeId, 0)
        : new JobLocation(null, Math.Max(0, _dispatcher.Queue.PositionOf(jobId)));

    /// <summary>A queued or running job, for its record; null when it is neither. Running, with its placement, while a
    /// replica holds it (or is stopping it for another job); queued, with no placement, while it waits, also to resume
    /// after a hand-back — as its explanation says. A handed-back job was shown on the replica it left, which read as
    /// waiting for a node that was gone; its ticket says where it ran (<c>JobTicket.LastRequeue</c>).</summary>
    public LiveJob? Describe(string jobId)
    {
        if (!_jobs.TryGetValue(jobId, out var job))
        {
            return null;
        }

        var held = job.RunningOn is not null || job.PreemptedFrom is not null;
        return new LiveJob(job.Ticket, held ? JobStatus.Running : JobStatus.Queued, held ? job.Placement : null, job.CancelRequested);
    }

    /// <summary>A job's trace as it stands, its waiting lines up to the last round included, and its queue position
    /// when queued; null when the job is neither queued nor running here.</summary>
    public (JobTraceEvent[] Events, int? QueuePosition)? Explain(string jobId)
    {
        if (!_jobs.TryGetValue(jobId, out var job))
        {
            return null;
        }

        if (job.RunningOn is not null)
        {
            return (job.Trace.ToArray(), null);
        }

        var trace = new JobTrace(job.Trace.Events);
        _waits.AppendWaits(job.Demand, job.WaitingSince, trace);
        return (trace.ToArray(), Math.Max(0, _dispatcher.Queue.PositionOf(jobId)));
    }

    public PlacementSnapshot Snapshot()
    {
        // From the queue's tally, kept as jobs come and go: read every 10 s by the gauges, it walked every queued job.
        var tally = _dispatcher.Queue.Tally;
        QueuedCount[] byTenantAndPriority = [.. tally.ByTenantAndClass.Select(q => new QueuedCount(q.TenantId, q.Priority, q.Jobs))];
        var byTenant = byTenantAndPriority
            .GroupBy(q => q.TenantId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(q => q.Count), StringComparer.Ordinal);
        var replicas = _dispatcher.Replicas.Values.Select(SnapshotOf).ToArray();
        return new PlacementSnapshot(model, _dispatcher.Queue.Count, byTenant, replicas, _dispatcher.Placement.Name, _dispatcher.Queue.Name, _dispatcher.Batching.Name, byTenantAndPriority, Capacity(tally),
            WaitCostUsdPerSecond: _dispatcher.Placement.Name == SchedulingPolicies.DefaultPlacement ? options.WaitCostUsdPerSecond : 0,
            RunningByTenant: RunningByTenant());
    }

    // From the per-tenant counts each replica keeps for fair ranking, not the job table, which also holds every queued job.
    private Dictionary<string, int> RunningByTenant()
    {
        var byTenant = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var replica in _dispatcher.Replicas.Values)
        {
            foreach (var tenant in replica.Tenants)
            {
                byTenant[tenant] = byTenant.GetValueOrDefault(tenant) + replica.RunningOf(tenant);
            }
        }

        return byTenant;
    }

    private static ReplicaSnapshot SnapshotOf(ReplicaView r)
    {
        var limits = r.RateLimits;
        return new ReplicaSnapshot(
            r.ReplicaId, r.NodeId, r.AcceleratorId, r.Profile.Product, r.Schedulable, r.MaxSequences, r.KvCapacityTokens,
            r.RunningSequences, r.FreeKvTokens, r.Admissions, r.AdmissionsIntoRunningBatch, [.. r.RunningJobIds],
            limits.RequestsPerMinute, limits.TokensPerMinute, limits.RequestsAvailable, limits.TokensAvailable, r.CachedBlocks, r.PrefixBlocksForgotten,
            r.MaxJobTokens, PromptForms.All & ~r.AcceptedForms);
    }

    /// <summary>What the <see cref="CapacityPolicy"/> wants of each accelerator pool this model has replicas on, for the
    /// window's arrivals and attainment and the <paramref name="queued"/> jobs' tokens.</summary>
    private CapacitySnapshot Capacity(QueueTally queued)
    {
        var settings = options.Capacity;
        var demand = _demand.Signal(time.GetUtcNow(), queued.PromptTokens, queued.OutputTokens, _dispatcher.Queue.Count);
        // By worker pool, not product: two pools of one product (on-demand and spot) are scaled apart, each at its price.
        PoolState[] pools =
        [
            .. _dispatcher.Replicas.Values
                .GroupBy(r => persisted.Replicas.TryGetValue(r.ReplicaId, out var registered) ? registered.PoolName : r.Profile.Product, StringComparer.Ordinal)
                .Select(g => new PoolState(g.Key, g.First().Profile, g.Count(r => r.Schedulable), Math.Max(settings.MaxReplicasPerPool, g.Count()), settings.ColdStart)),
        ];
        var wants = _capacity.Want(demand, pools);
        var utilisation = _capacity.UtilisationFor(demand);
        return new CapacitySnapshot(
            settings.Window.TotalSeconds, demand.PromptTokensPerSecond, demand.OutputTokensPerSecond, demand.QueuedPromptTokens,
            demand.QueuedOutputTokens, demand.Attainment,
            [.. pools.Zip(wants, (p, w) => new PoolCapacity(
                p.Pool, p.Replicas, w.Replicas, p.MaxReplicas, w.BusyReplicas, settings.ColdStart.TotalSeconds, p.Profile.IsMetered, utilisation, p.Profile.Product))],
            demand.PeakPromptTokensPerSecond, settings.PeakLookback.TotalSeconds);
    }

    /// <summary>Counts a job's first token against its objective, once: a job handed back before it resumed from a
    /// delivered token prefills again, and a resumed one had its first token long ago.</summary>
    private void CountFirstToken(PlacedJob job)
    {
        if (job.FirstTokenAt is not null || job.Ticket.ResumeFromToken > 0)
        {
            return;
        }

        var now = time.GetUtcNow();
        job.FirstTokenAt = now;
        var objective = job.Ticket.Request.TtftObjectiveMs;
        _demand.FirstToken(now, objective <= 0 || (now - job.Ticket.SubmittedAt).TotalMilliseconds <= objective);
    }

    /// <summary>An admission round: holds that have passed end, queued jobs that can no longer make their deadline
    /// expire, then whatever fits is admitted.</summary>
    public AdmissionRound AdmitWhatFits()
    {
        var now = time.GetUtcNow();
        foreach (var replicaId in _holds.TakePassed(now) ?? [])
        {
            Reopen(replicaId);
        }

        if (_expiry.Count > 0)
        {
            ExpireLateJobs(now);
        }

        var ended = Drain(_ended);
        var requeued = Drain(_requeued);
        var admissions = _dispatcher.AdmitWhatFits();
        NoteSessionWaits(now);
        var displaced = Preempt(_dispatcher.Preemptions, now);
        if (admissions.Count == 0)
        {
            _waits.Record(_dispatcher.LastStop, _dispatcher.LastHeld, now, _dispatcher.SetAside);
            return new AdmissionRound(ended, requeued, [], ReadOnlyDictionary<string, string[]>.Empty, NextWakeUp());
        }

        var batches = new Dictionary<ReplicaView, List<AdmittedSequence>>();
        var admittedPerTenant = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var prefillWindowMs = (int)Math.Min(int.MaxValue, options.ContendedPrefillWindow.TotalMilliseconds);
        foreach (var (demand, chosen, runningBefore, rank, weighed, deferrals, prefillCap) in admissions)
        {
            var job = _jobs[demand.JobId];
            var placement = new JobPlacement(chosen.ReplicaId, chosen.AcceleratorId, chosen.Profile.Product, chosen.NodeId, runningBefore);
            if (!batches.TryGetValue(chosen, out var batch))
            {
                batch = [];
                batches[chosen] = batch;
            }

            job.RunningOn = chosen;
            job.AdmittedAt ??= now;
            job.Placement = placement;
            _expiry.Forget(demand.JobId);
            _waits.AppendWaits(demand, job.WaitingSince, job.Trace);
            job.Trace.Add(AdmissionExplanation.Admitted(now, demand, placement, chosen, weighed, _dispatcher.Placement.Name));

            // The trace goes with the job to its node link, which settles the job's record with it.
            var sequence = new AdmittedSequence(
                job.Ticket, placement, rank, displaced?.GetValueOrDefault(demand.JobId), deferrals, prefillCap, prefillCap > 0 ? prefillWindowMs : 0, job.Trace.ToArray());
            batch.Add(sequence);
            if (!job.WasAdmitted)
            {
                // A re-dispatched job left its tenant's queue the first time; it is counted once.
                job.WasAdmitted = true;
                (CollectionsMarshal.GetValueRefOrAddDefault(admittedPerTenant, job.Ticket.TenantId, out _) ??= []).Add(demand.JobId);
            }
        }

        _waits.Record(_dispatcher.LastStop, _dispatcher.LastHeld, now, _dispatcher.SetAside);
        return new AdmissionRound(
            ended,
            requeued,
            [.. batches.Select(b => new ReplicaBatch(b.Key.NodeId, b.Key.ReplicaId, [.. b.Value]))],
            admittedPerTenant.ToDictionary(t => t.Key, t => t.Value.ToArray(), StringComparer.Ordinal),
            NextWakeUp());
    }

    /// <summary>The jobs the round stopped to make room: each waits, holding nothing, until its node hands it back.
    /// Returns the victim of each admission that made room, by the admitted job's id; null when none was stopped.</summary>
    private Dictionary<string, string>? Preempt(IReadOnlyList<Preempted> preemptions, DateTimeOffset now)
    {
        if (preemptions.Count == 0)
        {
            return null;
        }

        var displaced = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (victim, replica, forJobId) in preemptions)
        {
            var job = _jobs[victim.JobId];
            job.Preempt();
            displaced[forJobId] = victim.JobId;
            job.Trace.Add(new JobTraceEvent(JobTraceKind.HandedBack, now,
                $"preempted on replica {replica.ReplicaId} for job {forJobId} (its tenant over its share there, or the job sheddable; preemption {job.Preemptions} of at most {options.MaxPreemptions}); queued again once its node stopped it",
                Placement: new JobPlacement(replica.ReplicaId, replica.AcceleratorId, replica.Profile.Product, replica.NodeId, 0)));
            LogPreempted(logger, victim.JobId, replica.ReplicaId, forJobId, job.Preemptions);
        }

        return displaced;
    }

    // At the time of the trace event that queued the job: its waiting lines start there, not a moment before it.
    private void Queue(PlacedJob job, DateTimeOffset now)
    {
        SetTenantWeight(job.Ticket.TenantId, job.Ticket.TenantWeight, job.Ticket.SubmittedAt);
        _dispatcher.Queue.Enqueue(job.Demand);
        _expiry.Track(job.Demand, _dispatcher.Replicas.Values);
        job.WaitingSince = _waits.Mark(now);
    }

    // The jobs counted on a replica (running there, or being stopped there for another job), each to resume where its
    // journaled ticket says: what goes back to the queue when the replica's stream is gone without handing them back.
    private RequeuedSequence[] CountedOn(ReplicaView replica) =>
        [.. _jobs.Values.Where(j => j.RunningOn == replica || j.PreemptedFrom == replica)
            .Select(j => new RequeuedSequence(j.Ticket.JobId, j.Ticket.ResumeFromToken, FirstAdmittedAt: j.AdmittedAt, FirstTokenAt: j.FirstTokenAt))];

    private void RequeueFrom(ReplicaView replica, RequeuedSequence[] sequences, string why)
    {
        // One time for the hand-back's trace event and the waiting it starts, so the trace lists them in time order.
        var now = time.GetUtcNow();
        foreach (var seq in sequences)
        {
            // Only a job still running there (or being stopped there) goes back: a stale report must not pull a job
            // re-admitted elsewhere.
            if (!_jobs.TryGetValue(seq.JobId, out var job) || (job.RunningOn ?? job.PreemptedFrom) != replica)
            {
                continue;
            }

            if (job.CancelRequested)
            {
                replica.Release(seq.JobId);
                EndCancelled(job, seq);
                continue;
            }

            replica.Release(seq.JobId);
            if (seq.Error is { } error)
            {
                if (job.CountHandBack(error) > options.MaxHandBacks)
                {
                    job.Trace.Add(HandedBackEvent(replica, seq, now, why,
                        $"that is {job.HandBacks} hand-backs, more than the {options.MaxHandBacks} allowed: the job failed"));
                    FailHandedBack(job, seq, error);
                    continue;
                }
            }

            if (!_dispatcher.Queue.Remove(seq.JobId) && job.Demand.Preemptions == 0)
            {
                // It was charged when first admitted; it will be charged again when re-admitted (a preempted job keeps
                // its charge and is not charged again: Dispatcher).
                _dispatcher.Queue.Adjust(job.Ticket.TenantId, -job.Demand.ServiceUnits);
            }

            job.ResumeAt(seq);
            job.CountRequeue($"from replica {replica.ReplicaId} (node {replica.NodeId}): {Cause(seq, why)}");
            _requeued.Add(job.Ticket);

            _dispatcher.Queue.EnqueueFront(job.Demand);
            job.WaitingSince = _waits.Mark(now);
            if (job.Ticket.ResumeFromToken == 0)
            {
                // Handed back before its first token, it has not started for its client: like any queued job it expires
                // once it can no longer finish by its deadline. One that delivered tokens runs on (its client has part
                // of its answer), as a running job is not stopped at its deadline.
                _expiry.Track(job.Demand, _dispatcher.Replicas.Values);
            }

            var count = seq.Error is null ? "" : $"hand-back {job.HandBacks} of at most {options.MaxHandBacks}; ";
            job.Trace.Add(HandedBackEvent(replica, seq, now, why,
                $"{count}back at the front of its queue, resuming at token {job.Ticket.ResumeFromToken}"));
            if (seq.Error is { } reason)
            {
                LogHandedBack(logger, seq.JobId, replica.ReplicaId, job.HandBacks, options.MaxHandBacks, job.Ticket.ResumeFromToken, reason);
            }
            else
            {
                LogRequeued(logger, seq.JobId, replica.ReplicaId, job.Ticket.ResumeFromToken);
            }
        }
    }

    private static JobTraceEvent HandedBackEvent(ReplicaView replica, RequeuedSequence seq, DateTimeOffset now, string why, string then) =>
        new(JobTraceKind.HandedBack, now, $"handed back by replica {replica.ReplicaId}: {Cause(seq, why)}; {then}",
            Placement: new JobPlacement(replica.ReplicaId, replica.AcceleratorId, replica.Profile.Product, replica.NodeId, 0));

    // An engine's error says more than the kind of hand-back it came with.
    private static string Cause(RequeuedSequence seq, string why) =>
        seq.Error is { } error ? $"its engine failed the job ({error})" : why;

    /// <summary>Ends a job its engines failed once too often, with the last engine's error and the output it had
    /// delivered: sent again, it would come back again (an upstream that always fails), for ever.</summary>
    private void FailHandedBack(PlacedJob job, RequeuedSequence seq, string error)
    {
        var message = $"the engine failed the job and handed it back {job.HandBacks} times, more than the {options.MaxHandBacks} allowed; the last time: {error}";
        EndHandedBack(job, seq, JobStatus.Failed, JobFinishReasons.Error, message);
        LogHandBacksExhausted(logger, job.Ticket.JobId, job.HandBacks, error);
    }

    /// <summary>Ends a job whose cancellation came while it was being preempted: handed back, it is not queued again.</summary>
    private void EndCancelled(PlacedJob job, RequeuedSequence seq) =>
        EndHandedBack(job, seq, JobStatus.Cancelled, JobFinishReasons.Cancelled, error: null);

    /// <summary>Ends a handed-back job here instead of queuing it again, with the output it had delivered. The cost of
    /// the runs is not charged: the tenant got no completion from them.</summary>
    private void EndHandedBack(PlacedJob job, RequeuedSequence seq, JobStatus status, string finishReason, string? error)
    {
        var jobId = job.Ticket.JobId;
        _jobs.Remove(jobId);
        RefundUnused(job, seq.DeliveredTokens);
        job.ResumeAt(seq);
        var ticket = job.Ticket;
        var now = time.GetUtcNow();
        // Measured to when an earlier run was admitted and delivered its first token, where it did (0 where not).
        var usage = new JobUsage(ticket.Request.PromptTokens, ticket.ResumeFromToken, 0, SinceSubmitted(ticket, ticket.FirstAdmittedAt),
            SinceSubmitted(ticket, ticket.FirstTokenAt), (now - ticket.SubmittedAt).TotalMilliseconds,
            PromptTokensSource: PromptTokenSources.Of(ticket.Request));
        var outcome = new JobOutcome(status, finishReason, usage, ticket.Delivered?.Text ?? "", error, ticket.Delivered?.TokenEnds ?? []);
        var announcement = JobEventRecord.Terminal(jobId, status, now, usage, finishReason, error);
        _ended.Add(new EndedJob(ticket, job.Placement, outcome, new JobAnnouncement([.. ticket.Watchers], announcement), job.Trace.ToArray()));
    }

    private static double SinceSubmitted(JobTicket ticket, DateTimeOffset? at) =>
        at is { } t ? (t - ticket.SubmittedAt).TotalMilliseconds : 0;

    /// <summary>The tenant was charged for max_tokens at admission; refunds what the job did not generate by
    /// <paramref name="completionTokens"/>.</summary>
    private void RefundUnused(PlacedJob job, int completionTokens)
    {
        var unused = job.Demand.MaxTokens - (completionTokens - job.Ticket.ResumeFromToken);
        if (unused > 0)
        {
            _dispatcher.Queue.Adjust(job.Ticket.TenantId, -2.0 * unused);
        }
    }

    private static T[] Drain<T>(List<T> pending)
    {
        if (pending.Count == 0)
        {
            return [];
        }

        var items = pending.ToArray();
        pending.Clear();
        return items;
    }

    /// <summary>
    /// An engine refused sequences this placement counted room for: it runs more than the placement knows (a node
    /// misreporting its capacity, or work the placement lost track of). Admitting again at once would only be
    /// refused again, so the replica takes nothing new until one of its sequences finishes — then there is room by
    /// any count — or <see cref="PlacementOptions.RejectionHold"/> passes, for an engine whose running sequences
    /// this placement does not know and so never hears finish.
    /// </summary>
    private void Hold(ReplicaView replica, int refused)
    {
        LogHeld(logger, replica.ReplicaId, refused, replica.RunningSequences, options.RejectionHold.TotalSeconds);
        if (!replica.Schedulable || _holds.IsHeld(replica.ReplicaId))
        {
            return;
        }

        replica.Schedulable = false;
        _holds.Begin(replica.ReplicaId, time.GetUtcNow());
    }

    private void ReleaseHold(string replicaId)
    {
        if (_holds.End(replicaId))
        {
            Reopen(replicaId);
        }
    }

    // A replica whose hold ended takes work again, unless its accelerator's state switched it off meanwhile.
    private void Reopen(string replicaId)
    {
        if (_dispatcher.Replicas.TryGetValue(replicaId, out var replica))
        {
            replica.Schedulable = !persisted.Unschedulable.Contains(replicaId);
        }
    }

    /// <summary>Removes the queued jobs that can no longer make their deadline; each ends as expired, without running.</summary>
    private void ExpireLateJobs(DateTimeOffset now)
    {
        foreach (var jobId in _expiry.TakeExpired(now) ?? [])
        {
            if (!_jobs.TryGetValue(jobId, out var job) || !_dispatcher.Queue.Remove(jobId))
            {
                continue;
            }

            _jobs.Remove(jobId);
            var error = $"DEADLINE_EXCEEDED: the job could no longer finish by its deadline {job.Ticket.Request.Deadline:O} and expired in the queue " +
                (job.WasAdmitted ? "after its replica handed it back before its first token" : "without running");
            var queueMs = (now - job.Ticket.SubmittedAt).TotalMilliseconds;
            var announcement = JobEventRecord.Terminal(jobId, JobStatus.Expired, now, usage: null, finishReason: null, error);
            var outcome = new JobOutcome(JobStatus.Expired, JobFinishReasons.Deadline, new JobUsage(0, 0, 0, queueMs, 0, 0), "", error, []);
            _waits.AppendWaits(job.Demand, job.WaitingSince, job.Trace);
            job.Trace.Add(new JobTraceEvent(JobTraceKind.Expired, now,
                $"expired in the queue: even on an idle replica of the fastest accelerator it could no longer finish by its deadline {job.Ticket.Request.Deadline:O}"));
            _ended.Add(new EndedJob(job.Ticket, job.Placement, outcome, new JobAnnouncement([.. job.Ticket.Watchers], announcement), job.Trace.ToArray()));
            LogExpired(logger, jobId, model);
        }
    }

    /// <summary>Explains, once per job, a wait for its session's replica that the round began, and keeps when the first
    /// such wait ends: a round then lets the job go elsewhere even if nothing frees meanwhile.</summary>
    private void NoteSessionWaits(DateTimeOffset now)
    {
        _sessionWaitsEnd = null;
        foreach (var (demand, replicaId, until) in _dispatcher.HolderWaits)
        {
            _sessionWaitsEnd = Earliest(_sessionWaitsEnd, until);
            if (_jobs.TryGetValue(demand.JobId, out var job) && !job.WaitedForSessionReplica)
            {
                job.WaitedForSessionReplica = true;
                job.Trace.Add(new JobTraceEvent(JobTraceKind.Waiting, now,
                    $"waits until {until:O} for replica {replicaId}, which holds its session's context but had no room for it; then it goes wherever it fits",
                    WaitReason.SessionReplicaFull));
            }
        }
    }

    // When the next queued job expires, the next hold passes or the next wait for a session's replica ends: the grain's
    // timer wakes it then, even when nothing else happens.
    private DateTimeOffset? NextWakeUp()
    {
        var expiry = _expiry.Count > 0 ? _expiry.NextExpiry : null;
        return Earliest(Earliest(expiry, _holds.NextDue), _sessionWaitsEnd);
    }

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) => a is null || (b is not null && b < a) ? b : a;

    /// <summary>The placement's view of a replica. Its slots include the admissions the node holds ahead, started there
    /// the moment a slot frees (KV is counted for them as for running ones, so they fit when they start); not under
    /// request-level batching, whose batches must drain before the next starts. A rate-limited replica's view mirrors its
    /// limits from now on (a placement rebuilt after a failover starts them full, as the engine's may not be).</summary>
    private ReplicaView ViewOf(ReplicaRegistration r) =>
        new(r.ReplicaId, r.NodeId, r.AcceleratorId, r.Profile, r.MaxSequences + (_dispatcher.Batching.JoinsRunningBatches ? r.QueueAhead : 0), r.KvCapacityTokens,
            UpstreamLimiter.IfLimited(r.RequestsPerMinute, r.TokensPerMinute, time), r.MaxContextTokens, r.AcceptedForms);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement of {Model} rebuilt: {Replicas} replicas, {Resumed} jobs still running on live streams, {Requeued} queued again")]
    private static partial void LogRecovered(ILogger logger, string model, int replicas, int resumed, int requeued);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} for model {Model} expired in the queue: it could no longer make its deadline")]
    private static partial void LogExpired(ILogger logger, string jobId, string model);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} refused {Refused} sequences while it ran {Running} others by this placement's count: held until one finishes there, at most {HoldSeconds} s")]
    private static partial void LogHeld(ILogger logger, string replicaId, int refused, int running, double holdSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} handed back by replica {ReplicaId} ({HandBacks} of at most {MaxHandBacks} times), resuming at token {ResumeFrom}: {Error}")]
    private static partial void LogHandedBack(ILogger logger, string jobId, string replicaId, int handBacks, int maxHandBacks, int resumeFrom, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed: its engines handed it back {HandBacks} times, more than Scheduler:Scheduling:MaxHandBacks allows; the last time: {Error}")]
    private static partial void LogHandBacksExhausted(ILogger logger, string jobId, int handBacks, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} preempted on replica {ReplicaId} to make room for job {ForJobId} (preemption {Preemptions})")]
    private static partial void LogPreempted(ILogger logger, string jobId, string replicaId, string forJobId, int preemptions);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} jobs of model {Model} finished under stream {LinkId}, which is gone, before their records could be written: written here")]
    private static partial void LogWritingUnrecorded(ILogger logger, int count, string model, string linkId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} re-queued from replica {ReplicaId}, resuming at token {ResumeFrom}")]
    private static partial void LogRequeued(ILogger logger, string jobId, string replicaId, int resumeFrom);
}
