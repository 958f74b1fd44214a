using Orleans.Core.Internal;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Jobs;
using Scheduler.Abstractions.Placement;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains.Fleet;

/// <summary>
/// A node's lease when the activation of its grain is gone (its silo died): the grain is deactivated here without
/// closing the node's stream, as a dead silo does nothing more, and the stream is marked down, as it went with the silo.
/// Nodes the test keeps alive are heartbeaten as workers do.
/// </summary>
[Collection(ShortLeaseClusterCollection.Name)]
public sealed class WorkerNodeLeaseTests(ShortLeaseClusterFixture cluster) : IAsyncDisposable
{
    private readonly string _model = Unique("model");
    private readonly string _tenant = Unique("tenant");
    private readonly List<Heartbeats> _heartbeats = [];

    private IPlacementGrain Placement => cluster.Client.GetGrain<IPlacementGrain>(_model);

    private IWorkerNodeGrain NodeGrain(string nodeId) => cluster.Client.GetGrain<IWorkerNodeGrain>(nodeId);

    [Fact]
    public async Task Lease_SiloHoldingTheNodeGrainDies_NodeIsLostAndItsJobsHandedBack()
    {
        var dead = Unique("node");
        var replica = Replica(Unique("rep"), _model, dead, maxSequences: 2, kvCapacityTokens: 10_000);
        var deadLink = await RegisterNode(cluster, dead, replica);
        var deadHeartbeats = Heartbeat(dead);
        await Placement.Enqueue(Ticket($"{_model}-j0", _tenant, _model));
        await Placement.Enqueue(Ticket($"{_model}-j1", _tenant, _model));
        await Until(() => deadLink.AdmittedJobIds.Count == 2, "both jobs run on the node");

        // The host fails: the node and the silo holding its grain and stream, together.
        await deadHeartbeats.Stop();
        await Die(dead, deadLink);
        var survivor = Unique("node");
        var survivorLink = await RegisterNode(cluster, survivor, Replica(Unique("rep"), _model, survivor, maxSequences: 2, kvCapacityTokens: 10_000));
        _ = Heartbeat(survivor);

        // Nobody heartbeats for the dead node: the placement's lease watch activates its grain again, whose inherited
        // lease lapses; its jobs then run on the survivor, resuming as their tickets say.
        await Until(() => survivorLink.AdmittedJobIds.Count == 2, "the dead node's jobs run on the surviving node");
        Assert.Equal([$"{_model}-j0", $"{_model}-j1"], survivorLink.AdmittedJobIds.Order());
        Assert.Equal(AcceleratorState.Lost, (await cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId).Get())?.State);
        var view = (await Placement.GetSnapshot()).Replicas.Single(r => r.ReplicaId == replica.ReplicaId);
        Assert.Equal((false, 0), (view.Schedulable, view.RunningSequences));
        var trace = (await Placement.Explain($"{_model}-j0"))!.Events;
        Assert.Contains(trace, e => e.Kind == JobTraceKind.HandedBack && e.Detail.Contains("lease lapsed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Lease_NodeGrainsSiloDiesButTheNodeLives_ItRegistersAgain_ItsJobsResumeThere_ItsAcceleratorStaysReady()
    {
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        var first = await RegisterNode(cluster, node, replica);
        _ = Heartbeat(node);
        await Placement.Enqueue(Ticket($"{_model}-j0", _tenant, _model));
        await Until(() => first.AdmittedJobIds.Count == 1, "the job runs on the node");

        await Die(node, first);

        // Its next heartbeat finds the new activation, which asks it to register again, as a worker then does.
        Assert.False(await NodeGrain(node).Heartbeat(draining: false));
        var second = await RegisterNode(cluster, node, replica);

        await Until(() => second.AdmittedJobIds.Contains($"{_model}-j0"), "the job resumes on the node's new stream");
        await Task.Delay(ShortLeaseClusterFixture.Lease * 2);
        Assert.Equal(AcceleratorState.Ready, (await cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId).Get())?.State);
        Assert.True((await NodeGrain(node).Get()).Connected);
        Assert.Single(second.AdmittedJobIds);
    }

    [Fact]
    public async Task Lease_StoppingNodeWhoseGrainsSiloDied_IsLostWhenTheInheritedLeaseLapses_ThoughItStillHeartbeats()
    {
        // A stopping node that finds itself unknown does not register again (its stream went with the silo): its jobs
        // must still come back, and its heartbeats must not keep the grain that watches the lease from staying.
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        var link = await RegisterNode(cluster, node, replica);
        var heartbeats = Heartbeat(node);
        await Placement.Enqueue(Ticket($"{_model}-j0", _tenant, _model));
        await Until(() => link.AdmittedJobIds.Count == 1, "the job runs on the node");
        heartbeats.Draining = true;
        await Until(async () => (await cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId).Get())?.State == AcceleratorState.Draining, "the node is stopping");

        await Die(node, link);

        await Until(async () => (await cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId).Get())?.State == AcceleratorState.Lost, "the node is lost");
        await Until(async () => (await Placement.Describe($"{_model}-j0"))?.Status == JobStatus.Queued, "its job is queued again");
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task Lease_LiveNodesAcceleratorMarkedLostAfterItRegistered_IsReadyAgainWithinALease_AndTakesJobs()
    {
        // A silo frozen past its death (SIGSTOP, a stalled VM) runs what it held for a moment when it wakes, before it
        // learns it is dead: a node's loss it was told of before the freeze marks the device lost after the node already
        // registered again on a survivor. Only a registration cleared that, and a live node does not register again:
        // its device read lost and its replica unschedulable for good (a fault probe saw it for over 5 minutes).
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        var link = await RegisterNode(cluster, node, replica);
        _ = Heartbeat(node);
        var accelerator = cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId);

        await accelerator.MarkLost();
        Assert.Equal(AcceleratorState.Lost, (await accelerator.Get())?.State);
        Assert.False((await Placement.GetSnapshot()).Replicas.Single(r => r.ReplicaId == replica.ReplicaId).Schedulable);

        // The node's grain, which its heartbeats keep, confirms its devices every lease.
        await Until(async () => (await accelerator.Get())?.State == AcceleratorState.Ready, "the live node's device is ready again");
        await Until(async () => (await Placement.GetSnapshot()).Replicas.Single(r => r.ReplicaId == replica.ReplicaId).Schedulable, "its replica is schedulable again");
        await Placement.Enqueue(Ticket($"{_model}-j0", _tenant, _model));
        await Until(() => link.AdmittedJobIds.Contains($"{_model}-j0"), "a new job runs on the node");
        Assert.True((await NodeGrain(node).Get()).Connected);
    }

    /// <summary>The silo holding the node's grain dies: the activation goes without closing the stream, which is down.</summary>
    private async Task Die(string nodeId, FakeNodeLink link)
    {
        link.Up = false;
        var before = (await NodeGrain(nodeId).Get()).Connected;
        Assert.True(before);
        await NodeGrain(nodeId).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await Until(async () => !(await NodeGrain(nodeId).Get()).Connected, "the node's grain lost its activation");
        Assert.False(link.Disposed);
    }

    /// <summary>Heartbeats <paramref name="nodeId"/> as its worker would (and registers nothing), until stopped or the
    /// test ends.</summary>
    private Heartbeats Heartbeat(string nodeId)
    {
        var heartbeats = new Heartbeats();
        _heartbeats.Add(heartbeats);
        heartbeats.Loop = Task.Run(async () =>
        {
            while (!heartbeats.Source.IsCancellationRequested)
            {
                await NodeGrain(nodeId).Heartbeat(heartbeats.Draining);
                await Task.Delay(ShortLeaseClusterFixture.HeartbeatInterval, CancellationToken.None);
            }
        });
        return heartbeats;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var heartbeats in _heartbeats)
        {
            await heartbeats.Stop();
            heartbeats.Source.Dispose();
        }
    }

    private sealed class Heartbeats
    {
        public CancellationTokenSource Source { get; } = new();

        public Task Loop { get; set; } = Task.CompletedTask;

        /// <summary>Whether the heartbeats say the node is stopping.</summary>
        public volatile bool Draining;

        public async Task Stop()
        {
            await Source.CancelAsync();
            await Loop;
        }
    }
}
