using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Scheduler.Abstractions.Catalog;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using Scheduler.Grains.Nodes;

namespace Scheduler.Grains.Fleet;

/// <summary>
/// One worker node: its registration, its lease and the execution stream to it. Kept active while the node
/// lives — idle collection must not close the stream. The registration and the stream's id are persisted
/// (<see cref="WorkerNodeState"/>), the lease's clock and the stream are not: when this grain's silo dies, the next
/// activation — made by the node's next heartbeat, or by a placement of its replicas checking on it
/// (<see cref="WatchLease"/>) — takes over the lease from the moment it starts. A live node is told to register again
/// and a new stream is opened from that silo; a node that never does (it died with the silo, or was stopping) is lost
/// when that lease lapses: its accelerators are marked lost and its placements hand back the jobs counted under its
/// old stream, which died with the silo and can no longer do it itself.
/// </summary>
[CollectionAgeLimit(AlwaysActive = true)]
internal sealed partial class WorkerNodeGrain(
    [PersistentState("node", StorageNames.Default)] IPersistentState<WorkerNodeState> state,
    OwnedStateWrites writes,
    INodeLinkFactory links,
    LocalNodeLinks localLinks,
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    IOptions<PlacementOptions> options,
    TimeProvider time,
    ILogger<WorkerNodeGrain> logger) : Grain, IWorkerNodeGrain
{
    private NodeRegistration? _registration;
    private INodeLink? _link;
    private DateTimeOffset _lastHeartbeat;
    private IGrainTimer? _leaseTimer;
    private bool _draining;

    // When this activation last told its accelerators the node is live (a registration does too).
    private DateTimeOffset _confirmedAt;

    // Set while this activation watches a registration an earlier one made (its silo died or it was moved), which the
    // persisted state still holds: its node must register again within a lease from then, or it is lost.
    private DateTimeOffset? _inheritedAt;

    private string NodeId => this.GetPrimaryKeyString();

    /// <summary>Takes over the lease of a registration this activation did not make (see the class summary).</summary>
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State is { Registration: not null, LinkId: not null })
        {
            _inheritedAt = time.GetUtcNow();
            StartLeaseTimer();
            LogInherited(logger, NodeId, options.Value.NodeLease.TotalSeconds);
        }

        return Task.CompletedTask;
    }

    /// <summary>Nothing to do here: activating the grain is the point (<see cref="OnActivateAsync"/>).</summary>
    public Task WatchLease() => Task.CompletedTask;

    public async Task<NodeLease> Register(NodeRegistration registration)
    {
        if (HeldByAnother(registration) is { } held)
        {
            // Two processes given one node id (a copied config): taking the id would drop the holder's stream and hand
            // its running jobs back, and the holder, refused in turn, would take it back — jobs bouncing between them for
            // as long as both run. The holder keeps it; the other is told, and gets it once the holder is gone.
            LogDuplicate(logger, NodeId, registration.Address, held.Address);
            return new NodeLease(options.Value.NodeLease, options.Value.HeartbeatInterval, held.Address);
        }

        await DropLink("re-registered");
        _inheritedAt = null;
        _registration = registration;
        _draining = false;
        _lastHeartbeat = time.GetUtcNow();
        _confirmedAt = _lastHeartbeat;

        var cordoned = new List<ReplicaRegistration>();
        foreach (var accelerator in registration.Accelerators)
        {
            var hosted = registration.Replicas.Where(r => r.AcceleratorId == accelerator.AcceleratorId).ToArray();
            var state = await GrainFactory.GetGrain<IAcceleratorGrain>(accelerator.AcceleratorId).Register(accelerator, hosted);
            if (state != AcceleratorState.Ready)
            {
                cordoned.AddRange(hosted);
            }
        }

        foreach (var replica in registration.Replicas)
        {
            await GrainFactory.GetGrain<IReplicaGrain>(replica.ReplicaId).Register(replica);
        }

        await GrainFactory.GetGrain<ICatalogGrain>(ICatalogGrain.Key).AddNode(
            NodeId,
            [.. registration.Accelerators.Select(a => a.AcceleratorId)],
            [.. registration.Replicas.Select(r => r.ReplicaId)],
            [.. registration.Replicas.Select(r => r.Model).Distinct()]);

        // The stream opens before the placements learn of the replicas, so the first admission finds it up.
        var link = links.Open(registration);
        _link = link;
        localLinks.Set(NodeId, link);

        // Durable before any job can be counted under the stream: whoever inherits this node must know which stream's
        // jobs to hand back if it is lost with this silo.
        state.State.Registration = registration;
        state.State.LinkId = link.LinkId;
        await writes.Write(state);
        foreach (var model in registration.Replicas.GroupBy(r => r.Model))
        {
            // Closed in the same call: a round between two calls would admit queued jobs to a cordoned replica.
            var closed = cordoned.Where(c => c.Model == model.Key).Select(c => c.ReplicaId).ToArray();
            await GrainFactory.GetGrain<IPlacementGrain>(model.Key).UpsertReplicas(link.LinkId, [.. model], closed);
        }

        StartLeaseTimer();
        LogRegistered(logger, NodeId, registration.Address, registration.Replicas.Length);
        return new NodeLease(options.Value.NodeLease, options.Value.HeartbeatInterval);
    }

    public Task<bool> Heartbeat(bool draining) => Heartbeat(draining, "");

    public async Task<bool> Heartbeat(bool draining, string instanceId)
    {
        if (_registration is { } other && !other.IsInstance(instanceId))
        {
            // Another process of this node id: it must not keep the holder's lease alive (nor drain it); told it is
            // unknown, it registers, and is refused while the holder lives.
            return false;
        }

        if (_registration is not { } registration)
        {
            // Not registered (this silo lost it, or the id is made up): the node registers again, and an always-active
            // grain must not stay behind for every unknown id that heartbeats. One that inherited a lease stays to
            // watch it: a stopping node does not register again, and its jobs are handed back when the lease lapses.
            if (_link is null && _inheritedAt is null)
            {
                this.DeactivateOnIdle();
            }

            return false;
        }

        _lastHeartbeat = time.GetUtcNow();
        if (draining && !_draining)
        {
            // Once: the placements stop sending work there; the stream stays open for what runs.
            _draining = true;
            LogDraining(logger, NodeId);
            foreach (var accelerator in registration.Accelerators)
            {
                await GrainFactory.GetGrain<IAcceleratorGrain>(accelerator.AcceleratorId).Drain();
            }
        }

        return true;
    }

    public Task Admit(string replicaId, AdmittedSequence[] batch)
    {
        if (_link is null || !_link.Admit(replicaId, batch))
        {
            // The stream is gone: hand the jobs back so they are placed elsewhere, not lost.
            var model = batch[0].Ticket.Request.Model;
            var requeue = batch.Select(s => new RequeuedSequence(s.Ticket.JobId, s.Ticket.ResumeFromToken)).ToArray();
            GrainFactory.GetGrain<IPlacementGrain>(model).Requeue(replicaId, linkId: null, requeue, HandBack.NodeLost).Ignore();
        }

        return Task.CompletedTask;
    }

    public Task Cancel(string replicaId, string[] jobIds)
    {
        _link?.Cancel(replicaId, jobIds);
        return Task.CompletedTask;
    }

    public Task<bool> Attach(string jobId, IJobEventSink sink, int fromToken) =>
        Task.FromResult(_link?.Attach(jobId, sink, fromToken) ?? false);

    public async Task LinkLost(string linkId)
    {
        if (_link?.LinkId == linkId && _draining)
        {
            // A stopping node ends its stream once its drain is done, then deregisters: an end it announced, not a loss
            // (it read "lost", with a warning, on every orderly scale-down the deregistration did not beat). What still
            // ran goes back now; a node that never deregisters is lost when its lease lapses.
            await DropLink("the node ended it after its drain");
        }
        else if (_link?.LinkId == linkId)
        {
            await LoseNode("execution stream broke");
        }
        else if (_registration is null && _link is null)
        {
            // A late report of a stream this node already left (it deregistered meanwhile): no activation stays for it.
            DeactivateOnIdle();
        }
    }

    public Task<NodeInfo> Get() => Task.FromResult(new NodeInfo(_registration, _link is not null, _lastHeartbeat));

    public Task Deregister() => Deregister("");

    public async Task Deregister(string instanceId)
    {
        if (_registration is { } other && !other.IsInstance(instanceId))
        {
            // Another process of this node id stopping: the one that holds it still runs.
            return;
        }

        // Closing the stream first hands back whatever still runs there (the node ended it after its drain: normally
        // nothing), so the jobs resume elsewhere before the replicas leave their placements.
        var registration = _registration;
        await DropLink("deregistered: the node left on purpose");
        _registration = null;
        await Retire(registration, "it left on purpose");
    }

    public async Task<ForgetNodeResult> Forget()
    {
        if (_registration is not null || _link is not null)
        {
            return new ForgetNodeResult(ForgetNodeOutcome.Connected, [], []);
        }

        return await Retire(null, "an operator forgot it");
    }

    private async Task<ForgetNodeResult> Retire(NodeRegistration? registration, string why)
    {
        var result = await NodeRetirement.RetireAsync(GrainFactory, NodeId, registration);
        if (result.Outcome == ForgetNodeOutcome.Forgotten)
        {
            LogForgotten(logger, NodeId, why, result.AcceleratorIds.Length, result.ReplicaIds.Length);
        }

        // Nothing is left to hold this always-active grain: a node of this id that comes back registers afresh. Nor a
        // lease for a later activation to take over: a forgotten node must not be declared lost again.
        _inheritedAt = null;
        await ForgetRegistration();
        _leaseTimer?.Dispose();
        _leaseTimer = null;
        DeactivateOnIdle();
        return result;
    }

    public Task<NodeJobs?> RunningJobs(string model) =>
        Task.FromResult(_link is { } link ? new NodeJobs(link.LinkId, link.Running(model)) : null);

    /// <summary>A silo shutting down hands the stream's jobs back, to resume from the tokens delivered; the node's next
    /// heartbeat registers it again on another silo. A lone silo has no other to hand them to: closing the stream would
    /// only race its nodes' heartbeats against its own shutdown.</summary>
    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) =>
        OtherSilosActive() ? DropLink($"deactivated: {reason.Description}") : Task.CompletedTask;

    /// <summary>The live registration of another process of this node id, if one holds it: its stream is open and its
    /// lease not lapsed.</summary>
    private NodeRegistration? HeldByAnother(NodeRegistration registration) =>
        _registration is { } held && !held.IsInstance(registration.InstanceId) && _link is not null &&
        time.GetUtcNow() - _lastHeartbeat <= options.Value.NodeLease
            ? held
            : null;

    private bool OtherSilosActive() =>
        membership.CurrentSnapshot.Members.Values.Any(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(localSilo.SiloAddress));

    private void StartLeaseTimer() =>
        _leaseTimer ??= this.RegisterGrainTimer(CheckLease, new GrainTimerCreationOptions(options.Value.HeartbeatInterval, options.Value.HeartbeatInterval));

    private async Task CheckLease(CancellationToken cancellationToken)
    {
        if (_registration is not null && time.GetUtcNow() - _lastHeartbeat > options.Value.NodeLease)
        {
            await LoseNode("lease lapsed");
            return;
        }

        if (_inheritedAt is { } inheritedAt && time.GetUtcNow() - inheritedAt > options.Value.NodeLease)
        {
            await LoseInherited();
            return;
        }

        if (_registration is { } live)
        {
            // Placements are rebuilt lazily after a failover; waking them here rebuilds them without new traffic.
            foreach (var model in live.Replicas.Select(r => r.Model).Distinct())
            {
                GrainFactory.GetGrain<IPlacementGrain>(model).Wake().Ignore();
            }

            ConfirmLive(live);
        }
    }

    /// <summary>Every lease, tells the node's accelerators it is live (<see cref="IAcceleratorGrain.Confirm"/>): a lost
    /// mark, or a placement's unschedulable one, applied after the node registered is stale and nothing else clears it.
    /// One way: an accelerator on a silo that stalls must not hold this grain, whose heartbeats keep the lease.</summary>
    private void ConfirmLive(NodeRegistration live)
    {
        var now = time.GetUtcNow();
        if (_link is null || now - _confirmedAt < options.Value.NodeLease)
        {
            return;
        }

        _confirmedAt = now;
        foreach (var accelerator in live.Accelerators)
        {
            GrainFactory.GetGrain<IAcceleratorGrain>(accelerator.AcceleratorId).Confirm(NodeId, _draining).Ignore();
        }
    }

    private async Task LoseNode(string reason)
    {
        var registration = _registration;
        await DropLink(reason);
        _registration = null;
        if (registration is null)
        {
            return;
        }

        LogLost(logger, NodeId, reason);
        await MarkAcceleratorsLost(registration);
        await ForgetRegistration();
    }

    /// <summary>The node an earlier activation registered did not register again within a lease of this one's start.
    /// Its stream died with that activation's silo, so it handed nothing back: its placements hand back what they
    /// counted under it, each job resuming where its journaled ticket says (clients drop the tokens they have).</summary>
    private async Task LoseInherited()
    {
        var (registration, linkId) = (state.State.Registration!, state.State.LinkId!);
        LogLost(logger, NodeId, "lease lapsed: it did not register again after the silo holding its stream was lost");

        // Each step is idempotent: one that fails (storage or a placement unreachable) is tried again at the next tick.
        await MarkAcceleratorsLost(registration);
        foreach (var model in registration.Replicas.Select(r => r.Model).Distinct())
        {
            await GrainFactory.GetGrain<IPlacementGrain>(model).NodeLost(NodeId, linkId);
        }

        await ForgetRegistration();
        _inheritedAt = null;
        this.DeactivateOnIdle();
    }

    private async Task MarkAcceleratorsLost(NodeRegistration registration)
    {
        foreach (var accelerator in registration.Accelerators)
        {
            await GrainFactory.GetGrain<IAcceleratorGrain>(accelerator.AcceleratorId).MarkLost();
        }

        // Its engines' last figures (sequences, KV, tokens/s) would otherwise read as live for as long as the silos run.
        foreach (var replica in registration.Replicas)
        {
            await GrainFactory.GetGrain<IReplicaGrain>(replica.ReplicaId).NodeLost();
        }
    }

    /// <summary>A lost node has no lease for a later activation to take over.</summary>
    private async Task ForgetRegistration()
    {
        state.State.Registration = null;
        state.State.LinkId = null;
        await writes.Write(state);
    }

    /// <summary>Closing a link hands its running jobs back to their placements.</summary>
    private async Task DropLink(string reason)
    {
        if (_link is { } link)
        {
            _link = null;
            localLinks.Remove(NodeId, link);
            LogLinkDropped(logger, NodeId, reason);
            await link.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} registered from {Address} with {Replicas} replicas")]
    private static partial void LogRegistered(ILogger logger, string nodeId, string address, int replicas);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId}: a second worker process at {Address} registers under this node id, which the worker at {HeldBy} holds: refused. Give each worker its own Worker:NodeId")]
    private static partial void LogDuplicate(ILogger logger, string nodeId, string address, string heldBy);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} is stopping: its replicas take no new work while what runs there finishes")]
    private static partial void LogDraining(ILogger logger, string nodeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId}'s grain took over its lease ({LeaseSeconds} s) from an earlier activation: it must register again or is lost")]
    private static partial void LogInherited(ILogger logger, string nodeId, double leaseSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} lost: {Reason}")]
    private static partial void LogLost(ILogger logger, string nodeId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} forgotten ({Why}): its accelerators ({Accelerators}) and replicas ({Replicas}) are no longer listed or scheduled")]
    private static partial void LogForgotten(ILogger logger, string nodeId, string why, int accelerators, int replicas);

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution stream to node {NodeId} closed: {Reason}")]
    private static partial void LogLinkDropped(ILogger logger, string nodeId, string reason);
}
