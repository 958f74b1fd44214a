using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;
using Scheduler.Grains.Jobs;
using Scheduler.Policies;
using Scheduler.Policies.Admission;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;

namespace Scheduler.Grains.Placement;

/// <summary>
/// Continuous batching and cost-aware dispatch for one model. Every event that frees or adds capacity (a job
/// queued, sequences finished, a replica added or restored) runs an admission round: jobs are taken in fair
/// order and admitted into whichever replica the placement policy picks, as long as any replica has a free slot
/// and KV room for them — never past either. Jobs admitted to one replica in a round go to its node as one message.
/// Decisions read only this grain's memory; other grains are told, never asked (one-way calls).
/// Queued jobs that can no longer make their deadline expire (checked before every round and on a timer set for the
/// next expiry); sheddable jobs are refused while the queue is over <see cref="SchedulingOptions.OverloadQueueLength"/>.
/// Nothing per job is persisted here: accepted jobs are in the <see cref="IJobJournal"/>, replicas in this grain's
/// state, and an activation after a failover rebuilds the queue from both (<see cref="OnActivateAsync"/>).
/// </summary>
[CollectionAgeLimit(AlwaysActive = true)]
internal sealed partial class PlacementGrain(
    [PersistentState("placement", StorageNames.Default)] IPersistentState<PlacementState> state,
    IJobJournal journal,
    IOptions<SchedulingOptions> options,
    TimeProvider time,
    ILogger<PlacementGrain> logger) : Grain, IPlacementGrain
{
    private readonly Dispatcher _dispatcher = Dispatcher.Create(options.Value.PlacementPolicy, options.Value.FairnessPolicy, options.Value.BatchingPolicy);
    private readonly Dictionary<string, PlacedJob> _jobs = new(StringComparer.Ordinal);
    private readonly DeadlineExpiry _expiry = new();
    private IGrainTimer? _expiryTimer;
    private DateTimeOffset? _expiryTimerDue;

    // The execution stream each replica is reached through: reports from an earlier stream are stale.
    private readonly Dictionary<string, string> _links = new(StringComparer.Ordinal);

    // Replicas whose engine refused a sequence, until one of theirs finishes or the hold passes (see Hold).
    private readonly Dictionary<string, IGrainTimer> _holds = new(StringComparer.Ordinal);

    private string Model => this.GetPrimaryKeyString();

    /// <summary>
    /// Rebuilds the model's queue after a failover (a no-op on a fresh model). Replicas come back from state but stay
    /// off until their node's live stream vouches for them; jobs a live stream still runs keep their place on it;
    /// every other unfinished job in the journal is queued again in arrival order, to resume where its ticket says.
    /// </summary>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        LogActive(logger, Model, RuntimeIdentity);
        var tickets = await journal.Load(Model);
        var persisted = state.State;
        if (tickets.Count == 0 && persisted.Replicas.Count == 0)
        {
            return;
        }

        foreach (var r in persisted.Replicas.Values)
        {
            var view = ViewOf(r);
            view.Schedulable = false;
            _dispatcher.Replicas[r.ReplicaId] = view;
        }

        // Nodes first, records second: a job that finishes in between is then seen running and released by the
        // node's report, instead of being run twice.
        var running = await RunningOnLiveStreams(persisted);
        var records = await Task.WhenAll(tickets.Select(t => GrainFactory.GetGrain<IJobGrain>(t.JobId).Get()));
        int resumed = 0, requeued = 0;
        foreach (var (ticket, record) in tickets.Zip(records).OrderBy(p => p.First.SubmittedAt))
        {
            if (record is { Status: not (JobStatus.Queued or JobStatus.Running) })
            {
                await journal.Remove(Model, ticket.JobId);
                continue;
            }

            var job = new PlacedJob(ticket) { WasAdmitted = record?.Status == JobStatus.Running };
            _jobs[ticket.JobId] = job;
            if (running.TryGetValue(ticket.JobId, out var replicaId) && _dispatcher.Replicas.TryGetValue(replicaId, out var replica))
            {
                replica.Admit(job.Demand);
                replica.PrefillDone(job.Demand.PromptTokens);
                job.RunningOn = replica;
                job.WasAdmitted = true;
                resumed++;
            }
            else
            {
                _dispatcher.Queue.SetWeight(ticket.TenantId, ticket.TenantWeight);
                _dispatcher.Queue.Enqueue(job.Demand);
                _expiry.Track(job.Demand, _dispatcher.Replicas.Values);
                requeued++;
            }
        }

        LogRecovered(logger, Model, _dispatcher.Replicas.Count, resumed, requeued);
        AdmitWhatFits();
    }

    /// <summary>Asks each node once which of the model's jobs its live stream runs; replicas of nodes that answer
    /// become schedulable again (unless their accelerator is off).</summary>
    private async Task<Dictionary<string, string>> RunningOnLiveStreams(PlacementState persisted)
    {
        var nodes = persisted.Replicas.Values.Select(r => r.NodeId).Distinct(StringComparer.Ordinal).ToArray();
        var answers = await Task.WhenAll(nodes.Select(n => GrainFactory.GetGrain<IWorkerNodeGrain>(n).RunningJobs(Model)));
        var running = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (nodeId, answer) in nodes.Zip(answers))
        {
            if (answer is null)
            {
                continue;
            }

            foreach (var r in persisted.Replicas.Values.Where(r => r.NodeId == nodeId))
            {
                _links[r.ReplicaId] = answer.LinkId;
                _dispatcher.Replicas[r.ReplicaId].Schedulable = !persisted.Unschedulable.Contains(r.ReplicaId);
            }

            foreach (var job in answer.Jobs)
            {
                running[job.JobId] = job.ReplicaId;
            }
        }

        return running;
    }

    private static ReplicaView ViewOf(ReplicaRegistration r) =>
        new(r.ReplicaId, r.NodeId, r.AcceleratorId, r.Profile, r.MaxSequences, r.KvCapacityTokens);

    public Task Wake()
    {
        AdmitWhatFits();
        return Task.CompletedTask;
    }

    public Task<EnqueueResult> Enqueue(JobTicket ticket)
    {
        if (!_jobs.ContainsKey(ticket.JobId))
        {
            var overload = options.Value.OverloadQueueLength;
            if (ticket.Request.Priority == JobPriority.Sheddable && overload > 0 && _dispatcher.Queue.Count >= overload)
            {
                return Task.FromResult(new EnqueueResult(0, Shed: true));
            }

            var job = new PlacedJob(ticket);
            _jobs[ticket.JobId] = job;
            _dispatcher.Queue.SetWeight(ticket.TenantId, ticket.TenantWeight);
            _dispatcher.Queue.Enqueue(job.Demand);
            _expiry.Track(job.Demand, _dispatcher.Replicas.Values);
            AdmitWhatFits();
        }

        return Task.FromResult(new EnqueueResult(Math.Max(0, _dispatcher.Queue.PositionOf(ticket.JobId))));
    }

    public async Task UpsertReplicas(string linkId, ReplicaRegistration[] replicas)
    {
        var changed = false;
        foreach (var r in replicas)
        {
            if (_links.TryGetValue(r.ReplicaId, out var previous) && previous != linkId &&
                _dispatcher.Replicas.TryGetValue(r.ReplicaId, out var existing))
            {
                // Whatever ran there went down with the earlier stream (the node drops a superseded stream's
                // sequences): back to the front of the queue, resuming where their tickets say.
                RequeueFrom(existing, [.. _jobs.Values.Where(j => j.RunningOn == existing).Select(j => new RequeuedSequence(j.Ticket.JobId, j.Ticket.ResumeFromToken))]);
            }

            // A registration makes its replicas schedulable (a fresh stream to a fresh engine ends any hold); the
            // node's grain switches off, right after, those whose accelerator is cordoned or draining.
            EndHold(r.ReplicaId);
            _links[r.ReplicaId] = linkId;
            changed |= state.State.Unschedulable.Remove(r.ReplicaId);
            if (_dispatcher.Replicas.TryGetValue(r.ReplicaId, out var view) && state.State.Replicas.GetValueOrDefault(r.ReplicaId) == r)
            {
                view.Schedulable = true;
                continue;
            }

            if (view is null || view.RunningSequences == 0)
            {
                _dispatcher.Replicas[r.ReplicaId] = ViewOf(r);
            }
            else
            {
                view.Schedulable = true;
            }

            state.State.Replicas[r.ReplicaId] = r;
            changed = true;
        }

        if (changed)
        {
            // Durable before the node's registration completes, so a later failover finds the replicas.
            await state.WriteStateAsync();
        }

        AdmitWhatFits();
    }

    public async Task SetSchedulable(string replicaId, bool schedulable)
    {
        if (_dispatcher.Replicas.TryGetValue(replicaId, out var replica))
        {
            replica.Schedulable = schedulable;
            var changed = schedulable ? state.State.Unschedulable.Remove(replicaId) : state.State.Unschedulable.Add(replicaId);
            if (changed)
            {
                await state.WriteStateAsync();
            }

            AdmitWhatFits();
        }
    }

    public Task OnProgress(string replicaId, string[] prefilled, FinishedSequence[] finished)
    {
        if (!_dispatcher.Replicas.TryGetValue(replicaId, out var replica))
        {
            return Task.CompletedTask;
        }

        foreach (var jobId in prefilled)
        {
            if (_jobs.TryGetValue(jobId, out var job) && job.RunningOn == replica)
            {
                replica.PrefillDone(job.Demand.PromptTokens);
            }
        }

        if (finished.Length > 0)
        {
            ReleaseHold(replicaId);
        }

        foreach (var done in finished)
        {
            if (replica.Release(done.JobId) && _jobs.Remove(done.JobId, out var job))
            {
                // The tenant was charged for max_tokens at admission; refund what it did not generate.
                var unused = job.Demand.MaxTokens - (done.CompletionTokens - job.Ticket.ResumeFromToken);
                if (unused > 0)
                {
                    _dispatcher.Queue.Adjust(job.Ticket.TenantId, -2.0 * unused);
                }
            }
        }

        AdmitWhatFits();
        return Task.CompletedTask;
    }

    public Task Requeue(string replicaId, string? linkId, RequeuedSequence[] sequences, HandBack reason)
    {
        if (!_dispatcher.Replicas.TryGetValue(replicaId, out var replica) ||
            (linkId is not null && _links.GetValueOrDefault(replicaId) != linkId))
        {
            // A stream the replica no longer uses: its jobs were handed back when the newer one was announced.
            return Task.CompletedTask;
        }

        RequeueFrom(replica, sequences);
        switch (reason)
        {
            case HandBack.NodeLost:
                // Nothing more goes there until the node registers again. A stream closed by its owner says nothing
                // of the kind, and may arrive after the node registered anew.
                EndHold(replicaId);
                replica.Schedulable = false;
                break;
            case HandBack.Rejected:
                Hold(replica, sequences.Length);
                break;
        }

        AdmitWhatFits();
        return Task.CompletedTask;
    }

    /// <summary>
    /// An engine refused sequences this placement counted room for: it runs more than the placement knows (a node
    /// misreporting its capacity, or work the placement lost track of). Admitting again at once would only be
    /// refused again, so the replica takes nothing new until one of its sequences finishes — then there is room by
    /// any count — or <see cref="SchedulingOptions.RejectionHold"/> passes, for an engine whose running sequences
    /// this placement does not know and so never hears finish.
    /// </summary>
    private void Hold(ReplicaView replica, int refused)
    {
        LogHeld(logger, replica.ReplicaId, refused, replica.RunningSequences, options.Value.RejectionHold.TotalSeconds);
        if (!replica.Schedulable || _holds.ContainsKey(replica.ReplicaId))
        {
            return;
        }

        replica.Schedulable = false;
        _holds[replica.ReplicaId] = this.RegisterGrainTimer(
            _ =>
            {
                ReleaseHold(replica.ReplicaId);
                AdmitWhatFits();
                return Task.CompletedTask;
            },
            options.Value.RejectionHold,
            Timeout.InfiniteTimeSpan);
    }

    private void ReleaseHold(string replicaId)
    {
        if (EndHold(replicaId) && _dispatcher.Replicas.TryGetValue(replicaId, out var replica))
        {
            replica.Schedulable = !state.State.Unschedulable.Contains(replicaId);
        }
    }

    private bool EndHold(string replicaId)
    {
        if (!_holds.Remove(replicaId, out var timer))
        {
            return false;
        }

        timer.Dispose();
        return true;
    }

    private void RequeueFrom(ReplicaView replica, RequeuedSequence[] sequences)
    {
        foreach (var seq in sequences)
        {
            // Only a job still running there goes back: a stale report must not pull a job re-admitted elsewhere.
            if (!_jobs.TryGetValue(seq.JobId, out var job) || job.RunningOn is null || job.RunningOn != replica)
            {
                continue;
            }

            replica.Release(seq.JobId);

            if (!_dispatcher.Queue.Remove(seq.JobId))
            {
                // It was charged when first admitted; it will be charged again when re-admitted.
                _dispatcher.Queue.Adjust(job.Ticket.TenantId, -job.Demand.ServiceUnits);
            }

            job.ResumeAt(seq.DeliveredTokens, seq.Output);
            _dispatcher.Queue.EnqueueFront(job.Demand);
            LogRequeued(logger, seq.JobId, replica.ReplicaId, job.Ticket.ResumeFromToken);
        }
    }

    public Task<CancelOutcome> Cancel(string jobId)
    {
        if (!_jobs.TryGetValue(jobId, out var job))
        {
            return Task.FromResult(CancelOutcome.NotFound);
        }

        if (_dispatcher.Queue.Remove(jobId))
        {
            _jobs.Remove(jobId);
            _expiry.Forget(jobId);
            var cancelled = JobEventRecord.Terminal(jobId, JobStatus.Cancelled, time.GetUtcNow(), usage: null, finishReason: null, error: null);
            foreach (var watcher in job.Ticket.Watchers)
            {
                watcher.OnEvents([cancelled]).Ignore();
            }

            return Task.FromResult(job.WasAdmitted ? CancelOutcome.CancelledWhileRequeued : CancelOutcome.CancelledWhileQueued);
        }

        if (job.RunningOn is not { } replica)
        {
            return Task.FromResult(CancelOutcome.NotFound);
        }

        // The node confirms with a finished sequence, which frees the capacity for the next job.
        GrainFactory.GetGrain<IWorkerNodeGrain>(replica.NodeId).Cancel(replica.ReplicaId, [jobId]).Ignore();
        return Task.FromResult(CancelOutcome.CancellationRequested);
    }

    public async Task<bool> Attach(string jobId, IJobEventSink sink, int fromToken)
    {
        if (!_jobs.TryGetValue(jobId, out var job))
        {
            return false;
        }

        // Remembered on the ticket too, so a re-dispatch after a node failure keeps the watcher, and in the
        // journal, so a rebuilt placement does. Other calls run during the awaits: what the job is doing is read after.
        job.AddWatcher(sink);
        await journal.Add(job.Ticket);
        if (!_jobs.ContainsKey(jobId))
        {
            // It ended (finished, expired or was cancelled) meanwhile, and its record may have cleared the journal before
            // the ticket above landed: clear it again. The caller replays the record.
            await journal.Remove(Model, jobId);
            return false;
        }

        if (job.RunningOn is not { } replica)
        {
            sink.OnEvents([new JobEventRecord(jobId, JobEventKind.Queued, time.GetUtcNow(), QueuePosition: Math.Max(0, _dispatcher.Queue.PositionOf(jobId)))]).Ignore();
            return true;
        }

        return await GrainFactory.GetGrain<IWorkerNodeGrain>(replica.NodeId).Attach(jobId, sink, fromToken);
    }

    public Task<PlacementSnapshot> GetSnapshot()
    {
        var byTenant = _jobs.Values
            .Where(j => j.RunningOn is null)
            .GroupBy(j => j.Ticket.TenantId)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var replicas = _dispatcher.Replicas.Values.Select(r => new ReplicaSnapshot(
            r.ReplicaId, r.NodeId, r.AcceleratorId, r.Profile.Product, r.Schedulable, r.MaxSequences, r.KvCapacityTokens,
            r.RunningSequences, r.FreeKvTokens, r.Admissions, r.AdmissionsIntoRunningBatch, [.. r.RunningJobIds])).ToArray();
        return Task.FromResult(new PlacementSnapshot(Model, _dispatcher.Queue.Count, byTenant, replicas, _dispatcher.Placement.Name, _dispatcher.Queue.Name, _dispatcher.Batching.Name));
    }

    /// <summary>Expires what can no longer make its deadline, runs an admission round and tells the world: one message
    /// per replica, one per tenant, one per job.</summary>
    private void AdmitWhatFits()
    {
        if (_expiry.Count > 0)
        {
            ExpireLateJobs();
        }

        var admissions = _dispatcher.AdmitWhatFits();
        if (admissions.Count == 0)
        {
            return;
        }

        var batches = new Dictionary<ReplicaView, List<AdmittedSequence>>();
        Dictionary<string, List<string>>? admittedPerTenant = null;
        foreach (var (demand, chosen, runningBefore) in admissions)
        {
            var job = _jobs[demand.JobId];
            var placement = new JobPlacement(chosen.ReplicaId, chosen.AcceleratorId, chosen.Profile.Product, chosen.NodeId, runningBefore);
            if (!batches.TryGetValue(chosen, out var batch))
            {
                batch = [];
                batches[chosen] = batch;
            }

            batch.Add(new AdmittedSequence(job.Ticket, placement));
            job.RunningOn = chosen;
            _expiry.Forget(demand.JobId);
            if (!job.WasAdmitted)
            {
                // A re-dispatched job left its tenant's queue the first time; it is counted once.
                job.WasAdmitted = true;
                admittedPerTenant ??= new(StringComparer.Ordinal);
                (CollectionsMarshal.GetValueRefOrAddDefault(admittedPerTenant, job.Ticket.TenantId, out _) ??= []).Add(demand.JobId);
                GrainFactory.GetGrain<IJobGrain>(demand.JobId).OnAdmitted(placement).Ignore();
            }
        }

        foreach (var (replica, batch) in batches)
        {
            GrainFactory.GetGrain<IWorkerNodeGrain>(replica.NodeId).Admit(replica.ReplicaId, [.. batch]).Ignore();
        }

        foreach (var (tenant, jobIds) in admittedPerTenant ?? [])
        {
            GrainFactory.GetGrain<ITenantGrain>(tenant).OnAdmitted([.. jobIds]).Ignore();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement of {Model} active on silo {Silo}")]
    private static partial void LogActive(ILogger logger, string model, string silo);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement of {Model} rebuilt: {Replicas} replicas, {Resumed} jobs still running on live streams, {Requeued} queued again")]
    private static partial void LogRecovered(ILogger logger, string model, int replicas, int resumed, int requeued);

    /// <summary>Removes the queued jobs that can no longer make their deadline; each ends as expired, without running.</summary>
    private void ExpireLateJobs()
    {
        var now = time.GetUtcNow();
        foreach (var jobId in _expiry.TakeExpired(now) ?? [])
        {
            if (!_jobs.TryGetValue(jobId, out var job) || !_dispatcher.Queue.Remove(jobId))
            {
                continue;
            }

            _jobs.Remove(jobId);
            var error = $"DEADLINE_EXCEEDED: the job could no longer finish by its deadline {job.Ticket.Request.Deadline:O} and expired in the queue without running";
            var queueMs = (now - job.Ticket.SubmittedAt).TotalMilliseconds;
            var expired = JobEventRecord.Terminal(jobId, JobStatus.Expired, now, usage: null, finishReason: null, error);
            var outcome = new JobOutcome(JobStatus.Expired, "deadline", new JobUsage(0, 0, 0, queueMs, 0, 0), "", error, []);
            GrainFactory.GetGrain<IJobGrain>(jobId).Expire(outcome, [.. job.Ticket.Watchers], expired).Ignore();
            LogExpired(logger, jobId, Model);
        }

        ArmExpiryTimer(now);
    }

    /// <summary>Keeps a one-shot timer set for the next expiry, so jobs expire on time even when nothing else happens.
    /// The timer only wakes the grain; whether a job expired is decided on the injected clock.</summary>
    private void ArmExpiryTimer(DateTimeOffset now)
    {
        var next = _expiry.NextExpiry;
        if (next == _expiryTimerDue)
        {
            return;
        }

        _expiryTimerDue = next;
        var dueTime = next is { } at ? TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, (at - now).Ticks + TimeSpan.TicksPerMillisecond)) : Timeout.InfiniteTimeSpan;
        if (_expiryTimer is null)
        {
            _expiryTimer = this.RegisterGrainTimer(_ =>
            {
                _expiryTimerDue = null;
                AdmitWhatFits();
                return Task.CompletedTask;
            }, dueTime, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _expiryTimer.Change(dueTime, Timeout.InfiniteTimeSpan);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} for model {Model} expired in the queue: it could no longer make its deadline")]
    private static partial void LogExpired(ILogger logger, string jobId, string model);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} refused {Refused} sequences while it ran {Running} others by this placement's count: held until one finishes there, at most {HoldSeconds} s")]
    private static partial void LogHeld(ILogger logger, string replicaId, int refused, int running, double holdSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} re-queued from replica {ReplicaId}, resuming at token {ResumeFrom}")]
    private static partial void LogRequeued(ILogger logger, string jobId, string replicaId, int resumeFrom);
}
