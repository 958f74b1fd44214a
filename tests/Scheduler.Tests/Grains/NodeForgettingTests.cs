using Scheduler.Abstractions.Catalog;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Placement;
using static Scheduler.Tests.Grains.GrainTestKit;

namespace Scheduler.Tests.Grains;

/// <summary>A node that left on purpose (<see cref="IWorkerNodeGrain.Deregister(string)"/>) or that an operator forgets
/// (<see cref="IWorkerNodeGrain.Forget"/>) is gone from the catalog, its accelerators and its placements — not shown
/// lost for the silos' lifetime — while the jobs it still held resume elsewhere and a cordon waits for its return.</summary>
[Collection(GrainClusterCollection.Name)]
public sealed class NodeForgettingTests(GrainClusterFixture cluster)
{
    private readonly string _model = Unique("model");
    private readonly string _tenant = Unique("tenant");

    private IPlacementGrain Placement => cluster.Client.GetGrain<IPlacementGrain>(_model);

    private ICatalogGrain Catalog => cluster.Client.GetGrain<ICatalogGrain>(ICatalogGrain.Key);

    [Fact]
    public async Task Deregister_ForgetsTheNode_AndAJobStillCountedThereResumesElsewhere()
    {
        var leaving = Unique("node");
        var replica = Replica(Unique("rep"), _model, leaving, maxSequences: 2, kvCapacityTokens: 10_000);
        var link = await RegisterNode(cluster, leaving, replica);
        await Placement.Enqueue(Ticket($"{_model}-j0", _tenant, _model));
        await Until(() => link.AdmittedJobIds.Count == 1, "the job runs on the leaving node");

        await cluster.Client.GetGrain<IWorkerNodeGrain>(leaving).Deregister();

        Assert.True(link.Disposed);
        Assert.Null(await cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId).Get());
        Assert.Null(await cluster.Client.GetGrain<IReplicaGrain>(replica.ReplicaId).Get());
        var catalog = await Catalog.Get();
        Assert.DoesNotContain(leaving, catalog.Nodes);
        Assert.DoesNotContain(replica.AcceleratorId, catalog.Accelerators);
        Assert.DoesNotContain(replica.ReplicaId, catalog.Replicas);
        var snapshot = await Placement.GetSnapshot();
        Assert.Empty(snapshot.Replicas);
        Assert.Equal(1, snapshot.QueuedJobs);

        // The job it held is placed on the next node that serves the model.
        var staying = Unique("node");
        var next = await RegisterNode(cluster, staying, Replica(Unique("rep"), _model, staying, maxSequences: 2, kvCapacityTokens: 10_000));
        await Until(() => next.AdmittedJobIds.Contains($"{_model}-j0"), "the job resumes on another node");
    }

    [Fact]
    public async Task Forget_RefusedWhileConnected_ForgetsALostNode_UnknownIsNotFound()
    {
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        var link = await RegisterNode(cluster, node, replica);
        var grain = cluster.Client.GetGrain<IWorkerNodeGrain>(node);

        Assert.Equal(ForgetNodeOutcome.Connected, (await grain.Forget()).Outcome);
        Assert.Equal(AcceleratorState.Ready, (await cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId).Get())?.State);

        await grain.LinkLost(link.LinkId);
        await Until(async () => (await cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId).Get())?.State == AcceleratorState.Lost, "the node is lost");

        var forgotten = await grain.Forget();
        Assert.Equal(ForgetNodeOutcome.Forgotten, forgotten.Outcome);
        Assert.Equal([replica.AcceleratorId], forgotten.AcceleratorIds);
        Assert.Equal([replica.ReplicaId], forgotten.ReplicaIds);
        Assert.Null(await cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId).Get());
        Assert.DoesNotContain(node, (await Catalog.Get()).Nodes);
        Assert.Empty((await Placement.GetSnapshot()).Replicas);

        Assert.Equal(ForgetNodeOutcome.NotFound, (await grain.Forget()).Outcome);
        Assert.Equal(ForgetNodeOutcome.NotFound, (await cluster.Client.GetGrain<IWorkerNodeGrain>(Unique("node")).Forget()).Outcome);
    }

    [Fact]
    public async Task Deregister_KeepsACordon_ForTheNodeThatComesBack()
    {
        var node = Unique("node");
        var replica = Replica(Unique("rep"), _model, node, maxSequences: 2, kvCapacityTokens: 10_000);
        await RegisterNode(cluster, node, replica);
        var accelerator = cluster.Client.GetGrain<IAcceleratorGrain>(replica.AcceleratorId);
        await accelerator.Cordon();

        await cluster.Client.GetGrain<IWorkerNodeGrain>(node).Deregister();
        Assert.Null(await accelerator.Get());

        var back = await RegisterNode(cluster, node, replica);
        Assert.Equal(AcceleratorState.Cordoned, (await accelerator.Get())?.State);
        Assert.Contains(node, (await Catalog.Get()).Nodes);
        await Placement.Enqueue(Ticket($"{_model}-j0", _tenant, _model));
        await Settle(cluster, node);
        Assert.Empty(back.Admits);
    }
}
