using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Placement;
using Scheduler.Abstractions.Tenants;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains;

[Collection(GrainClusterCollection.Name)]
public sealed class WorkerNodeGrainTests(GrainClusterFixture cluster)
{
    private readonly string _model = Unique("model");
    private readonly string _tenant = Unique("tenant");

    private IPlacementGrain Placement => cluster.Client.GetGrain<IPlacementGrain>(_model);

    private string JobId(int i) => $"{_model}-j{i}";

    [Fact]
    public async Task Register_OpensLinkAndMakesReplicasSchedulable()
    {
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);

        var link = await RegisterNode(cluster, node, replica);

        var info = await cluster.Client.GetGrain<IWorkerNodeGrain>(node).Get();
        Assert.True(info.Connected);
        Assert.Equal(node, info.Registration?.NodeId);
        Assert.False(link.Disposed);
        var view = Assert.Single((await Placement.GetSnapshot()).Replicas);
        Assert.Equal(replica.ReplicaId, view.ReplicaId);
        Assert.True(view.Schedulable);
        Assert.Equal(AcceleratorState.Ready, (await cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId).Get())?.State);
        Assert.True(await cluster.Client.GetGrain<IWorkerNodeGrain>(node).Heartbeat(draining: false));
    }

    [Fact]
    public async Task Heartbeat_UnknownNode_AsksItToRegister()
    {
        Assert.False(await cluster.Client.GetGrain<IWorkerNodeGrain>(Unique("node")).Heartbeat(draining: false));
    }

    [Fact]
    public async Task LinkLost_MarksAcceleratorsLostAndStopsAdmissions_StaleLinkIdIgnored()
    {
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        var link = await RegisterNode(cluster, node, replica);
        var grain = cluster.Client.GetGrain<IWorkerNodeGrain>(node);

        await grain.LinkLost("some-earlier-link");
        Assert.True((await grain.Get()).Connected);

        await grain.LinkLost(link.LinkId);

        await Until(async () => !(await grain.Get()).Connected, "the node is disconnected");
        Assert.True(link.Disposed);
        await Until(async () => !(await Placement.GetSnapshot()).Replicas.Single().Schedulable, "the replica is unschedulable");
        Assert.Equal(AcceleratorState.Lost, (await cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId).Get())?.State);
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));
        await Settle(cluster, node);
        Assert.Empty(link.Admits);
        Assert.False(await grain.Heartbeat(draining: false));
    }

    [Fact]
    public async Task LinkLost_OfADrainingNode_HandsBackWhatRanButDoesNotMarkItLost_ItsDeregistrationForgetsIt()
    {
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        var link = await RegisterNode(cluster, node, replica);
        var grain = cluster.Client.GetGrain<IWorkerNodeGrain>(node);
        var accelerator = cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId);
        Assert.True(await grain.Heartbeat(draining: true));

        // The node ends its stream at the end of its drain, a moment before it deregisters.
        await grain.LinkLost(link.LinkId);

        await Until(async () => !(await grain.Get()).Connected, "the stream is closed");
        Assert.True(link.Disposed);
        Assert.Equal(AcceleratorState.Draining, (await accelerator.Get())?.State);
        Assert.True(await grain.Heartbeat(draining: true));

        await grain.Deregister();
        Assert.Null(await accelerator.Get());
    }

    [Fact]
    public async Task Heartbeat_Draining_StopsAdmissionsToItsReplicas_KeepsTheStream_UntilTheNodeRegistersAgain()
    {
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        var link = await RegisterNode(cluster, node, replica);
        var grain = cluster.Client.GetGrain<IWorkerNodeGrain>(node);
        var accelerator = cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId);

        Assert.True(await grain.Heartbeat(draining: true));

        // Nothing new goes there, and an uncordon does not change that; the stream stays open for what runs.
        Assert.False((await Placement.GetSnapshot()).Replicas.Single().Schedulable);
        Assert.Equal(AcceleratorState.Draining, (await accelerator.Get())?.State);
        await accelerator.Uncordon();
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));
        await Settle(cluster, node);
        Assert.Empty(link.Admits);
        Assert.True((await grain.Get()).Connected);
        Assert.False(link.Disposed);
        Assert.True(await grain.Heartbeat(draining: true));

        // The node came back (a new process under the same name): it takes work again.
        var relink = await RegisterNode(cluster, node, replica);
        Assert.Equal(AcceleratorState.Ready, (await accelerator.Get())?.State);
        await Until(() => relink.AdmittedJobIds.Contains(JobId(0)), "the queued job reaches the node registered anew");
    }

    // Two processes given one node id: the one holding it keeps it, the other is refused and speaks for nobody.
    [Fact]
    public async Task AnotherProcessOfTheNodeId_IsRefusedWhileTheHolderLives_AndNeitherRenewsDrainsNorDeregistersIt()
    {
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        var grain = cluster.Client.GetGrain<IWorkerNodeGrain>(node);
        var accelerator = cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId);
        var holder = Node(node, replica) with { Address = "fake://holder", InstanceId = "holder" };
        Assert.Null((await grain.Register(holder)).HeldBy);
        var link = cluster.Links.Link(node);

        var refused = await grain.Register(holder with { Address = "fake://copy", InstanceId = "copy" });

        Assert.Equal("fake://holder", refused.HeldBy);
        Assert.Same(link, cluster.Links.Link(node));
        Assert.False(link.Disposed);
        Assert.False(await grain.Heartbeat(draining: true, "copy"));
        Assert.Equal(AcceleratorState.Ready, (await accelerator.Get())?.State);
        await grain.Deregister("copy");
        Assert.Equal("fake://holder", (await grain.Get()).Registration?.Address);
        Assert.True(await grain.Heartbeat(draining: false, "holder"));

        // The holder gone, the other process registers.
        await grain.LinkLost(link.LinkId);
        await Until(async () => !(await grain.Get()).Connected, "the holder is lost");
        Assert.Null((await grain.Register(holder with { Address = "fake://copy", InstanceId = "copy" })).HeldBy);
        Assert.Equal("fake://copy", (await grain.Get()).Registration?.Address);
        Assert.False(await grain.Heartbeat(draining: false, "holder"));
    }

    [Fact]
    public async Task Cordon_StopsAdmissionsToItsReplicas_UncordonResumes()
    {
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        var link = await RegisterNode(cluster, node, replica);
        var accelerator = cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId);

        Assert.Equal(AcceleratorState.Cordoned, (await accelerator.Cordon())?.State);
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));
        await Settle(cluster, node);
        Assert.Empty(link.Admits);

        Assert.Equal(AcceleratorState.Ready, (await accelerator.Uncordon())?.State);

        await Until(() => link.AdmittedJobIds.Count == 1, "admission after uncordon");
    }

    [Fact]
    public async Task Register_AgainWhileItsAcceleratorIsCordoned_ItsReplicaTakesNoQueuedJob()
    {
        // A worker restart, a silo failure or a cluster restart registers the node again: its replica must stay closed
        // through the registration, or the round the registration runs admits the queue to a cordoned accelerator.
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        await RegisterNode(cluster, node, replica);
        var accelerator = cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId);
        Assert.Equal(AcceleratorState.Cordoned, (await accelerator.Cordon())?.State);
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));

        var again = await RegisterNode(cluster, node, replica);
        await Settle(cluster, node);

        Assert.Empty(again.Admits);
        Assert.Equal(AcceleratorState.Ready, (await accelerator.Uncordon())?.State);
        await Until(() => again.AdmittedJobIds.Count == 1, "admission after uncordon");
    }

    [Fact]
    public async Task Admit_NodeGrainOnThisSilo_PlacementHandsTheBatchToTheStreamItself()
    {
        var node = Unique("node");
        var link = await RegisterNode(cluster, node, Replica("r", _model, node, maxSequences: 2, kvCapacityTokens: 10_000));

        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));

        await Until(() => link.AdmittedJobIds.Count == 1, "the admission");
        // Handed over in the placement's own turn, not in a turn of the node's grain: no message in between.
        Assert.Equal(Placement.GetGrainId(), link.Admits[0].HandedOverBy);
    }

    [Fact]
    public async Task Admit_AfterTheNodeRegisteredAgain_ReachesOnlyTheNewStream()
    {
        var node = Unique("node");
        var replica = Replica("r", _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        var first = await RegisterNode(cluster, node, replica);
        var second = await RegisterNode(cluster, node, replica);
        Assert.NotSame(first, second);

        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));

        await Until(() => second.AdmittedJobIds.Count == 1, "the admission on the new stream");
        Assert.True(first.Disposed);
        Assert.Empty(first.Admits);
    }

    [Fact]
    public async Task Admit_WhenLinkIsDown_HandsBatchBackAndItIsPlacedElsewhere()
    {
        var nodeA = Unique("node");
        var nodeB = Unique("node");
        var linkA = await RegisterNode(cluster, nodeA, Replica("ra", _model, nodeA, maxSequences: 2, kvCapacityTokens: 10_000));
        linkA.Up = false;
        await Placement.Enqueue(Ticket(JobId(0), _tenant, _model));

        await Until(async () => !(await Placement.GetSnapshot()).Replicas.Single().Schedulable, "the undeliverable replica is taken out");
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);

        var linkB = await RegisterNode(cluster, nodeB, Replica("rb", _model, nodeB, maxSequences: 2, kvCapacityTokens: 10_000));

        await Until(() => linkB.AdmittedJobIds.Count == 1, "re-dispatch to node B");
        Assert.Empty(linkA.Admits);
        Assert.Equal(0, (await Placement.GetSnapshot()).QueuedJobs);
    }

    [Fact]
    public async Task Admit_WhenLinkIsDown_RedispatchedJobIsCountedOnceByItsTenant()
    {
        var tenantId = Unique("tenant");
        var tenant = cluster.Client.GetGrain<ITenantGrain>(tenantId);
        await tenant.Put(new TenantSettings(1, TenantQuotas.Default, null));
        var nodeA = Unique("node");
        var nodeB = Unique("node");
        var linkA = await RegisterNode(cluster, nodeA, Replica("ra", _model, nodeA, maxSequences: 1, kvCapacityTokens: 10_000));
        linkA.Up = false;
        await tenant.Submit(JobId(0), Request(_model), []);
        await tenant.Submit(JobId(1), Request(_model), []);
        await Until(async () => !(await Placement.GetSnapshot()).Replicas.Single().Schedulable, "the undeliverable replica is taken out");

        var linkB = await RegisterNode(cluster, nodeB, Replica("rb", _model, nodeB, maxSequences: 1, kvCapacityTokens: 10_000));
        await Until(() => linkB.AdmittedJobIds.Count == 1, "re-dispatch to node B");
        await Settle(cluster, nodeB);

        // One job runs on B, one waits: the tenant must say so once every one-way notification has landed.
        Assert.Equal(1, (await Placement.GetSnapshot()).QueuedJobs);
        await Task.Delay(200);
        var info = await tenant.Get();
        Assert.Equal(1, info?.RunningJobs);
        Assert.Equal(1, info?.QueuedJobs);
    }
}
