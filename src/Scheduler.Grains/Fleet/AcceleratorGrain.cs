using Microsoft.Extensions.Logging;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Placement;

namespace Scheduler.Grains.Fleet;

[GenerateSerializer, Alias("scheduler.AcceleratorGrainState")]
public sealed class AcceleratorGrainState
{
    [Id(0)] public AcceleratorRegistration? Registration { get; set; }
    [Id(1)] public ReplicaRegistration[] Replicas { get; set; } = [];
    [Id(2)] public bool Cordoned { get; set; }
    [Id(3)] public bool Lost { get; set; }

    /// <summary>Its node is stopping (until it registers again or is lost).</summary>
    [Id(4)] public bool NodeStopping { get; set; }
}

/// <summary>One device. Its state is pushed to the placements of its replicas, which never ask.</summary>
internal sealed partial class AcceleratorGrain(
    [PersistentState("accelerator", StorageNames.Default)] IPersistentState<AcceleratorGrainState> state,
    OwnedStateWrites writes,
    ILogger<AcceleratorGrain> logger) : Grain, IAcceleratorGrain
{
    public async Task<AcceleratorState> Register(AcceleratorRegistration registration, ReplicaRegistration[] replicas)
    {
        var s = state.State;
        s.Registration = registration;
        s.Replicas = replicas;
        s.Lost = false;
        s.NodeStopping = false;
        await writes.Write(state);
        return State();
    }

    public async Task<AcceleratorInfo?> Get()
    {
        var s = state.State;
        if (s.Registration is null)
        {
            return null;
        }

        // Utilisation is the share of this device's sequence slots the scheduler has filled.
        var slots = 0;
        var used = 0;
        foreach (var replica in s.Replicas)
        {
            var snapshot = await GrainFactory.GetGrain<IPlacementGrain>(replica.Model).GetSnapshot();
            var view = snapshot.Replicas.FirstOrDefault(r => r.ReplicaId == replica.ReplicaId);
            slots += replica.MaxSequences;
            used += view?.RunningSequences ?? 0;
        }

        // A cordoned device still finishing its sequences is draining; once they are done it is simply cordoned. A
        // stopping node's device drains until its node is gone.
        var current = State() == AcceleratorState.Cordoned && used > 0 ? AcceleratorState.Draining : State();
        return new AcceleratorInfo(s.Registration, current, [.. s.Replicas.Select(r => r.ReplicaId)], slots == 0 ? 0 : (double)used / slots);
    }

    public async Task MarkLost()
    {
        state.State.Lost = true;
        state.State.NodeStopping = false;
        await writes.Write(state);
        await PushSchedulable();
    }

    public async Task Confirm(string nodeId, bool stopping)
    {
        var s = state.State;
        if (s.Registration?.NodeId != nodeId)
        {
            return;
        }

        if (s.Lost || s.NodeStopping != stopping)
        {
            LogStaleMark(logger, this.GetPrimaryKeyString(), State().ToString().ToLowerInvariant(), nodeId);
            s.Lost = false;
            s.NodeStopping = stopping;
            await writes.Write(state);
        }

        // Pushed even when this state was right: the placement's own copy of it may be the stale one.
        await PushSchedulable();
    }

    public async Task Drain()
    {
        if (state.State.Registration is null || state.State.Lost || state.State.NodeStopping)
        {
            return;
        }

        state.State.NodeStopping = true;
        await writes.Write(state);
        await PushSchedulable();
    }

    public async Task<ReplicaRegistration[]?> Retire(string nodeId)
    {
        var s = state.State;
        if (s.Registration is not { } registration || registration.NodeId != nodeId)
        {
            return null;
        }

        // The placements are told by the node's retirement, which removes the replicas outright.
        var replicas = s.Replicas;
        s.Registration = null;
        s.Replicas = [];
        s.Lost = false;
        s.NodeStopping = false;
        // The cordon stays, so a node of that id that comes back finds its device as the operator left it.
        await writes.Write(state);
        return replicas;
    }

    public Task<AcceleratorInfo?> Cordon() => SetCordoned(true);

    public Task<AcceleratorInfo?> Uncordon() => SetCordoned(false);

    private async Task<AcceleratorInfo?> SetCordoned(bool cordoned)
    {
        if (state.State.Registration is null)
        {
            return null;
        }

        state.State.Cordoned = cordoned;
        await writes.Write(state);
        await PushSchedulable();
        return await Get();
    }

    private async Task PushSchedulable()
    {
        var schedulable = State() == AcceleratorState.Ready;
        foreach (var replica in state.State.Replicas)
        {
            await GrainFactory.GetGrain<IPlacementGrain>(replica.Model).SetSchedulable(replica.ReplicaId, schedulable);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Accelerator {AcceleratorId} read {State} while its node {NodeId} is live (registered, heartbeating, its stream open): a stale mark, cleared")]
    private static partial void LogStaleMark(ILogger logger, string acceleratorId, string state, string nodeId);

    private AcceleratorState State() =>
        state.State.Lost ? AcceleratorState.Lost
        : state.State.NodeStopping ? AcceleratorState.Draining
        : state.State.Cordoned ? AcceleratorState.Cordoned
        : AcceleratorState.Ready;
}
