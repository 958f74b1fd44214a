namespace Scheduler.Abstractions.Catalog;

/// <summary>The index operators list from: which tenants, nodes, accelerators and replicas exist. Singleton
/// (key <see cref="Key"/>); written on registration, read by admin calls, never on the job path.</summary>
public interface ICatalogGrain : IGrainWithStringKey
{
    const string Key = "catalog";

    Task AddTenant(string tenantId);

    Task AddNode(string nodeId, string[] acceleratorIds, string[] replicaIds, string[] models);

    /// <summary>A node is forgotten: it, and the accelerators and replicas it had, leave the index (models stay: the
    /// model catalog names them).</summary>
    Task RemoveNode(string nodeId, string[] acceleratorIds, string[] replicaIds);

    Task<CatalogSnapshot> Get();
}

[GenerateSerializer, Alias("scheduler.CatalogSnapshot")]
public sealed record CatalogSnapshot(
    [property: Id(0)] string[] Tenants,
    [property: Id(1)] string[] Nodes,
    [property: Id(2)] string[] Accelerators,
    [property: Id(3)] string[] Replicas,
    [property: Id(4)] string[] Models);
