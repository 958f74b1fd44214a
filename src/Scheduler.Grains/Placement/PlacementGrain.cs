using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;
using Scheduler.Grains.Jobs;
using Scheduler.Grains.Nodes;

namespace Scheduler.Grains.Placement;

/// <summary>
/// The Orleans shell of one model's placement: the decisions are the <see cref="ModelPlacement"/>'s, plain code; this
/// grain persists its replicas, rebuilds it after a failover, turns what it decides into one-way grain calls (one
/// message per replica, one per tenant: other grains are told, never asked; a job's record is not told, it asks
/// <see cref="Describe"/> when someone asks it), settles the jobs it ends itself, and keeps one timer that wakes it
/// when a queued job's deadline expiry or a rejection hold is due.
/// Nothing per job is persisted here: accepted jobs are in the <see cref="IJobJournal"/>, replicas in this grain's
/// state, and an activation after a failover rebuilds the queue from both (<see cref="OnActivateAsync"/>).
/// </summary>
[CollectionAgeLimit(AlwaysActive = true)]
internal sealed partial class PlacementGrain(
    [PersistentState("placement", StorageNames.Default)] IPersistentState<PlacementState> state,
    OwnedStateWrites writes,
    IJobJournal journal,
    JobSettlement settlement,
    GrainReferences references,
    LocalNodeLinks localLinks,
    IOptions<PlacementOptions> options,
    TimeProvider time,
    ILogger<PlacementGrain> logger) : Grain, IPlacementGrain
{
    // Created on activation: the persisted state is read after the grain is constructed.
    private ModelPlacement _placement = null!;
    private IGrainTimer? _wakeUpTimer;
    private DateTimeOffset? _wakeUpDue;

    private string Model => this.GetPrimaryKeyString();

    /// <summary>
    /// Rebuilds the model's queue after a failover (a no-op on a fresh model), as <see cref="RecoveryPlanner"/>
    /// decides from the persisted replicas, what their nodes' live streams run and the journaled jobs (a job leaves the
    /// journal as it settles, so every journaled job is unfinished).
    /// The journal is read, and the jobs restored, a page at a time (<see cref="IJobJournal.PageSize"/>), awaiting
    /// between pages: 50,000 journaled jobs read, deserialised and queued in one go held a silo thread for one turn of
    /// 1.6–5.4 s, which Orleans warned of as a stall. Nothing else of this grain runs until the rebuild is done (calls
    /// wait for an activation to complete, so no call sees a half-rebuilt queue): a node re-registering meanwhile
    /// (<see cref="UpsertReplicas(string, ReplicaRegistration[], string[])"/>) waits for the rebuild, which is bounded
    /// by the journal's length: for 50,000 jobs, live after a kill -9 on this 2-core machine, 1.1–1.3 s at a load average
    /// of 6–12 and 2.3–4.5 s at 34–60 (docs/scaling.md), inside a registration's 10 s.
    /// </summary>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        LogActive(logger, Model, RuntimeIdentity);
        _placement = new ModelPlacement(Model, state.State, options.Value, time, logger);
        var every = options.Value.HeartbeatInterval;
        this.RegisterGrainTimer(WatchNodeLeases, new GrainTimerCreationOptions(every, every));
        var nodes = RecoveryPlanner.NodesToAsk(state.State);
        var answers = await Task.WhenAll(nodes.Select(n => GrainFactory.GetGrain<IWorkerNodeGrain>(n).RunningJobs(Model)));

        // Read after the nodes answered: a job that settled meanwhile has left the journal. By job id: a paged read may
        // return an entry twice (a Redis scan does when the hash grows meanwhile).
        var tickets = new Dictionary<string, JobTicket>(StringComparer.Ordinal);
        await foreach (var page in journal.LoadPages(Model).WithCancellation(cancellationToken))
        {
            foreach (var ticket in page)
            {
                tickets[ticket.JobId] = ticket;
            }
        }

        if (tickets.Count == 0 && state.State.Replicas.Count == 0)
        {
            return;
        }

        var plan = RecoveryPlanner.Plan(state.State, nodes.Zip(answers), tickets.Values);
        _placement.RestoreReplicas(plan.LiveReplicas);
        foreach (var page in plan.Jobs.Chunk(IJobJournal.PageSize))
        {
            _placement.RestoreJobs(page);

            // Lets the silo's other work run between pages; this grain's calls still wait for the rebuild's end.
            await Task.Yield();
        }

        Carry(_placement.EndRecovery());

        // The restored tickets carry the weights their jobs were accepted with; a weight put since then reached the
        // activation that died. Each tenant tells the one in force (one way: its answer waits for this activation's end).
        foreach (var tenantId in plan.Jobs.Select(j => j.Ticket.TenantId).Distinct(StringComparer.Ordinal))
        {
            references.Tenant(tenantId).TellWeight(Model).Ignore();
        }
    }

    public Task NodeLost(string nodeId, string linkId)
    {
        LogNodeLost(logger, Model, nodeId);
        return JournalThenCarry(_placement.LoseLink(linkId));
    }

    /// <summary>
    /// Pokes the grains of the nodes this model's replicas depend on, one way. Why: a node's lease is checked by its
    /// grain's activation, and when the silo holding it dies together with the node (a host failure) nothing else
    /// re-activates that grain — the node never heartbeats again — so its jobs would stay counted here for ever. This
    /// grain is always active and rebuilt on a surviving silo after a failure, so its poke re-activates the node's grain,
    /// which takes over the lease from storage and hands the jobs back through <see cref="NodeLost"/> when it lapses.
    /// Chosen over an Orleans reminder per node: reminders are meant for minutes (a one-minute minimum period by default)
    /// where a lease is seconds, and need a reminder table in both storage modes; a poke to a live activation costs one
    /// message per node and heartbeat interval, and nothing is written.
    /// </summary>
    private Task WatchNodeLeases(CancellationToken cancellationToken)
    {
        foreach (var nodeId in _placement.NodesToWatch())
        {
            references.Node(nodeId).WatchLease().Ignore();
        }

        return Task.CompletedTask;
    }

    public Task Wake()
    {
        Carry(_placement.AdmitWhatFits());
        return Task.CompletedTask;
    }

    public Task<EnqueueResult> Enqueue(JobTicket ticket)
    {
        var (result, round) = _placement.Enqueue(ticket);
        Carry(round);
        return Task.FromResult(result);
    }

    public Task SetTenantWeight(string tenantId, double weight, DateTimeOffset at)
    {
        _placement.SetTenantWeight(tenantId, weight, at);
        return Task.CompletedTask;
    }

    public Task UpsertReplicas(string linkId, ReplicaRegistration[] replicas) => UpsertReplicas(linkId, replicas, []);

    public async Task UpsertReplicas(string linkId, ReplicaRegistration[] replicas, string[] closed)
    {
        if (_placement.UpsertReplicas(linkId, replicas, closed))
        {
            // Durable before the node's registration completes, so a later failover finds the replicas.
            await writes.Write(state);
        }

        // The jobs counted under the node's old stream, if any, went back to the queue.
        await JournalThenCarry(_placement.AdmitWhatFits());
    }

    public async Task RemoveReplicas(string[] replicaIds)
    {
        if (_placement.RemoveReplicas(replicaIds))
        {
            await writes.Write(state);
        }

        // The jobs it took back go elsewhere now.
        await JournalThenCarry(_placement.AdmitWhatFits());
    }

    public async Task SetSchedulable(string replicaId, bool schedulable)
    {
        if (!_placement.HasReplica(replicaId))
        {
            return;
        }

        if (_placement.SetSchedulable(replicaId, schedulable))
        {
            await writes.Write(state);
        }

        Carry(_placement.AdmitWhatFits());
    }

    public Task OnProgress(string replicaId, string[] prefilled, FinishedSequence[] finished, ulong[] evictedPrefixBlocks)
    {
        Carry(_placement.OnProgress(replicaId, prefilled, finished, evictedPrefixBlocks));
        return Task.CompletedTask;
    }

    public Task OnProgress(string replicaId, string[] prefilled, FinishedSequence[] finished) => OnProgress(replicaId, prefilled, finished, []);

    public Task OnFinishedUnrecorded(string replicaId, string linkId, UnrecordedFinish[] finished)
    {
        Carry(_placement.OnFinishedUnrecorded(replicaId, linkId, finished));
        return Task.CompletedTask;
    }

    public Task OnRecorded(string linkId, string[] jobIds)
    {
        _placement.ForgetUnrecorded(linkId, jobIds);
        return Task.CompletedTask;
    }

    public Task Requeue(string replicaId, string? linkId, RequeuedSequence[] sequences, HandBack reason) =>
        JournalThenCarry(_placement.Requeue(replicaId, linkId, sequences, reason));

    public Task<CancelResult> Cancel(string jobId)
    {
        var decision = _placement.Cancel(jobId);
        if (decision.StopOn is (var nodeId, var replicaId))
        {
            GrainFactory.GetGrain<IWorkerNodeGrain>(nodeId).Cancel(replicaId, [jobId]).Ignore();
        }

        // Taken out of its queue, the job is settled here, by whoever took it out, as a job that expired in the queue
        // is: settled only by the caller (its record, on another silo), it stayed journaled and unqueued for good when
        // that silo died before the write (an outside probe: a silo killed during a storm of 2,000 cancellations left
        // one job queued that no queue held, its tenant counting it, and a cancel's retry answering QUEUED). The
        // record settles it too, for its answer; the first end written wins, and both are the same end.
        if (decision.Ended is { } ended)
        {
            Settle(ended);
        }

        return Task.FromResult(new CancelResult(decision.Outcome, [], Placement: decision.Placement));
    }

    public async Task<bool> Attach(string jobId, IJobEventSink sink, int fromToken)
    {
        if (_placement.Watch(jobId, sink) is not { } ticket)
        {
            return false;
        }

        // Journaled with its watcher, so a rebuilt placement keeps it. Other calls run during the awaits: where the
        // job is is read after.
        await journal.Add(ticket);
        switch (_placement.Locate(jobId))
        {
            case null:
                // It ended (finished, expired or was cancelled) meanwhile, and its record may have cleared the journal
                // before the ticket above landed: clear it again. The caller replays the record.
                await journal.Remove(Model, jobId);
                return false;
            case { NodeId: { } nodeId }:
                return await GrainFactory.GetGrain<IWorkerNodeGrain>(nodeId).Attach(jobId, sink, fromToken);
            case var queued:
                sink.OnEvents([new JobEventRecord(jobId, JobEventKind.Queued, time.GetUtcNow(), QueuePosition: queued.QueuePosition)]).Ignore();
                return true;
        }
    }

    public Task<PlacementSnapshot> GetSnapshot() => Task.FromResult(_placement.Snapshot());

    public Task<LiveJob?> Describe(string jobId) => Task.FromResult(_placement.Describe(jobId));

    public Task<LiveJobTrace?> Explain(string jobId) =>
        Task.FromResult(_placement.Explain(jobId) is var (events, position) ? new LiveJobTrace(events, position) : null);

    /// <summary>Settles a job that ended here, no node running it, then tells its watchers. Not awaited: settling writes
    /// to storage, and the model's admissions must not wait on it.</summary>
    private void Settle(EndedJob ended) =>
        settlement.SettleThenTell(SettledJob.Of(ended.Ticket, ended.Placement, ended.Outcome, ended.Trace), ended.Announcement.Watchers, ended.Announcement.Event).Ignore();

    /// <summary>
    /// Journals the tickets of the jobs the round took back from replicas, then tells the world what it decided. Each
    /// re-queued job's ticket carries its re-queue count and reason, its engine-failure count and where it resumes, so
    /// a placement rebuilt after a failover shows and goes on with what happened; written before the job is
    /// re-dispatched, the write cannot land after the job's record cleared the journal. A re-queue is rare (a lost node, a refusal, a preemption, an engine's error): a normal job
    /// writes nothing here, and the tickets of one round go out together.
    /// </summary>
    private async Task JournalThenCarry(AdmissionRound? round)
    {
        if (round is { Requeued.Count: > 0 })
        {
            try
            {
                await Task.WhenAll(round.Requeued.Select(journal.Add));
            }
            catch (Exception ex)
            {
                // The round is decided and must go out: without the write, a failover would resume from the last ticket
                // journaled.
                LogRequeueNotJournaled(logger, ex, Model, round.Requeued.Count);
            }
        }

        Carry(round);
    }

    /// <summary>Tells the world what an admission round decided (null: none ran), and keeps the timer on its next due time.</summary>
    private void Carry(AdmissionRound? round)
    {
        if (round is null)
        {
            return;
        }

        foreach (var ended in round.Ended)
        {
            Settle(ended);
        }

        foreach (var batch in round.Batches)
        {
            // Straight to the stream when the node's grain is on this silo (LocalNodeLinks says why).
            if (!localLinks.TryAdmit(batch.NodeId, batch.ReplicaId, batch.Sequences))
            {
                references.Node(batch.NodeId).Admit(batch.ReplicaId, batch.Sequences).Ignore();
            }
        }

        foreach (var (tenant, jobIds) in round.AdmittedPerTenant)
        {
            references.Tenant(tenant).OnAdmitted(jobIds).Ignore();
        }

        WakeUpAt(round.WakeAt);
    }

    /// <summary>Keeps a one-shot timer set for the next moment something is due (a queued job's deadline expiry, a
    /// rejection hold passing), so it happens on time even when nothing else does. The timer only wakes the grain;
    /// what is due is decided on the injected clock.</summary>
    private void WakeUpAt(DateTimeOffset? at)
    {
        if (at == _wakeUpDue)
        {
            return;
        }

        _wakeUpDue = at;
        var dueTime = at is { } due
            ? TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, (due - time.GetUtcNow()).Ticks + TimeSpan.TicksPerMillisecond))
            : Timeout.InfiniteTimeSpan;
        if (_wakeUpTimer is null)
        {
            _wakeUpTimer = this.RegisterGrainTimer(_ =>
            {
                _wakeUpDue = null;
                Carry(_placement.AdmitWhatFits());
                return Task.CompletedTask;
            }, dueTime, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _wakeUpTimer.Change(dueTime, Timeout.InfiniteTimeSpan);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The tickets of {Jobs} jobs of model {Model} re-queued from replicas could not be journaled; a failover would show their re-queues and hand-backs, and resume them, from their last journaled tickets")]
    private static partial void LogRequeueNotJournaled(ILogger logger, Exception exception, string model, int jobs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placement of {Model}: node {NodeId} was lost with the silo holding its stream; the jobs counted there go back to the queue")]
    private static partial void LogNodeLost(ILogger logger, string model, string nodeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement of {Model} active on silo {Silo}")]
    private static partial void LogActive(ILogger logger, string model, string silo);
}
