using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;
using Scheduler.Policies.Dispatch;
using Scheduler.Policies.Placement;

namespace Scheduler.Grains.Placement;

/// <summary>
/// Continuous batching and cost-aware dispatch for one model. Every event that frees or adds capacity (a job
/// queued, sequences finished, a replica added or restored) runs an admission round: jobs are taken in fair
/// order and admitted into whichever replica the placement policy picks, as long as any replica has a free slot
/// and KV room for them — never past either. Jobs admitted to one replica in a round go to its node as one message.
/// Decisions read only this grain's memory; other grains are told, never asked (one-way calls).
/// </summary>
[CollectionAgeLimit(AlwaysActive = true)]
internal sealed partial class PlacementGrain(
    IOptions<SchedulingOptions> options,
    TimeProvider time,
    ILogger<PlacementGrain> logger) : Grain, IPlacementGrain
{
    private readonly Dispatcher _dispatcher = Dispatcher.Create(options.Value.PlacementPolicy, options.Value.FairnessPolicy, options.Value.BatchingPolicy);
    private readonly Dictionary<string, PlacedJob> _jobs = new(StringComparer.Ordinal);

    private string Model => this.GetPrimaryKeyString();

    public Task<int> Enqueue(JobTicket ticket)
    {
        if (!_jobs.ContainsKey(ticket.JobId))
        {
            var job = new PlacedJob(ticket);
            _jobs[ticket.JobId] = job;
            _dispatcher.Queue.SetWeight(ticket.TenantId, ticket.TenantWeight);
            _dispatcher.Queue.Enqueue(job.Demand);
            AdmitWhatFits();
        }

        return Task.FromResult(Math.Max(0, _dispatcher.Queue.PositionOf(ticket.JobId)));
    }

    public Task UpsertReplicas(ReplicaRegistration[] replicas)
    {
        foreach (var r in replicas)
        {
            if (_dispatcher.Replicas.TryGetValue(r.ReplicaId, out var existing) && existing.RunningSequences > 0)
            {
                // A node re-registered while we still count sequences on it: those are gone with its old
                // stream and come back through Requeue; keep the view until then, only restore it.
                existing.Schedulable = true;
                continue;
            }

            _dispatcher.Replicas[r.ReplicaId] = new ReplicaView(r.ReplicaId, r.NodeId, r.AcceleratorId, r.Profile, r.MaxSequences, r.KvCapacityTokens);
        }

        AdmitWhatFits();
        return Task.CompletedTask;
    }

    public Task SetSchedulable(string replicaId, bool schedulable)
    {
        if (_dispatcher.Replicas.TryGetValue(replicaId, out var replica))
        {
            replica.Schedulable = schedulable;
            AdmitWhatFits();
        }

        return Task.CompletedTask;
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

    public Task Requeue(string replicaId, RequeuedSequence[] sequences, bool replicaLost)
    {
        if (_dispatcher.Replicas.TryGetValue(replicaId, out var replica) && replicaLost)
        {
            // Its node is gone or unreachable: nothing more goes there until it registers again. A stream closed
            // by its owner says nothing of the kind, and may arrive after the node registered anew.
            replica.Schedulable = false;
        }

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

            job.ResumeAt(seq.DeliveredTokens);
            _dispatcher.Queue.EnqueueFront(job.Demand);
            LogRequeued(logger, seq.JobId, replicaId, job.Ticket.ResumeFromToken);
        }

        AdmitWhatFits();
        return Task.CompletedTask;
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

        // Remembered on the ticket too, so a re-dispatch after a node failure keeps the watcher.
        job.AddWatcher(sink);
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

    /// <summary>Runs an admission round and tells the world: one message per replica, one per tenant, one per job.</summary>
    private void AdmitWhatFits()
    {
        var admissions = _dispatcher.AdmitWhatFits();
        if (admissions.Count == 0)
        {
            return;
        }

        var batches = new Dictionary<ReplicaView, List<AdmittedSequence>>();
        Dictionary<string, int>? admittedPerTenant = null;
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
            if (!job.WasAdmitted)
            {
                // A re-dispatched job left its tenant's queue the first time; it is counted once.
                job.WasAdmitted = true;
                admittedPerTenant ??= new(StringComparer.Ordinal);
                admittedPerTenant[job.Ticket.TenantId] = admittedPerTenant.GetValueOrDefault(job.Ticket.TenantId) + 1;
                GrainFactory.GetGrain<IJobGrain>(demand.JobId).OnAdmitted(placement).Ignore();
            }
        }

        foreach (var (replica, batch) in batches)
        {
            GrainFactory.GetGrain<IWorkerNodeGrain>(replica.NodeId).Admit(replica.ReplicaId, [.. batch]).Ignore();
        }

        foreach (var (tenant, count) in admittedPerTenant ?? [])
        {
            GrainFactory.GetGrain<ITenantGrain>(tenant).OnAdmitted(count).Ignore();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} re-queued from replica {ReplicaId}, resuming at token {ResumeFrom}")]
    private static partial void LogRequeued(ILogger logger, string jobId, string replicaId, int resumeFrom);
}
