using Scheduler.Abstractions.Catalog;
using Scheduler.Abstractions.Fleet;
using Scheduler.Abstractions.Placement;

namespace Scheduler.Grains.Fleet;

/// <summary>
/// Forgets a node that is gone for good — it left on purpose, or an operator says it will not come back — so it is no
/// longer shown <c>lost</c> for the silos' lifetime: its accelerators, its replicas in their placements, and its entries
/// in the catalog. Without the node's registration (its lease lapsed, or its grain's silo died) its accelerators are
/// found in the catalog by the node they say they belong to.
/// </summary>
internal static class NodeRetirement
{
    /// <summary>Forgets <paramref name="nodeId"/>'s accelerators (those of <paramref name="registration"/>, or all
    /// the catalog has of it) and their replicas; returns what was forgotten (nothing when none is known).</summary>
    public static async Task<ForgetNodeResult> RetireAsync(IGrainFactory grains, string nodeId, NodeRegistration? registration)
    {
        var catalog = grains.GetGrain<ICatalogGrain>(ICatalogGrain.Key);
        var snapshot = await catalog.Get();
        string[] candidates = registration is not null
            ? [.. registration.Accelerators.Select(a => a.AcceleratorId)]
            : snapshot.Accelerators;

        // Each accelerator checks it is this node's: another node may have taken over a lost node's device since.
        var retired = await Task.WhenAll(candidates.Select(async id => (Id: id, Replicas: await grains.GetGrain<IAcceleratorGrain>(id).Retire(nodeId))));
        var accelerators = retired.Where(r => r.Replicas is not null).Select(r => r.Id).ToArray();
        var replicas = retired.SelectMany(r => r.Replicas ?? []).ToArray();
        foreach (var model in replicas.GroupBy(r => r.Model))
        {
            await grains.GetGrain<IPlacementGrain>(model.Key).RemoveReplicas([.. model.Select(r => r.ReplicaId)]);
        }

        await Task.WhenAll(replicas.Select(r => grains.GetGrain<IReplicaGrain>(r.ReplicaId).Forget()));
        var replicaIds = replicas.Select(r => r.ReplicaId).ToArray();
        var known = accelerators.Length > 0 || registration is not null || snapshot.Nodes.Contains(nodeId);
        await catalog.RemoveNode(nodeId, accelerators, replicaIds);
        return new ForgetNodeResult(known ? ForgetNodeOutcome.Forgotten : ForgetNodeOutcome.NotFound, accelerators, replicaIds);
    }
}
