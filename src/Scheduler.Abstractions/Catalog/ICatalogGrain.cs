using Orleans.CodeGeneration;

namespace Scheduler.Abstractions.Catalog;

/// <summary>The index operators list from: which tenants, nodes, accelerators and replicas exist. Singleton
/// (key <see cref="Key"/>); written on registration, read by admin calls, never on the job path. Version 1 added
/// <see cref="ListTenants"/>, version 2 <see cref="GetFleet"/>: a call from a silo of this version finds an activation
/// of an earlier version (on a silo not yet upgraded) incompatible, and Orleans moves the grain to a silo that has the
/// method instead of failing the call.</summary>
[Version(2)]
public interface ICatalogGrain : IGrainWithStringKey
{
    const string Key = "catalog";

    Task AddTenant(string tenantId);

    Task AddNode(string nodeId, string[] acceleratorIds, string[] replicaIds, string[] models);

    /// <summary>A node is forgotten: it, and the accelerators and replicas it had, leave the index (models stay: the
    /// model catalog names them).</summary>
    Task RemoveNode(string nodeId, string[] acceleratorIds, string[] replicaIds);

    Task<CatalogSnapshot> Get();

    /// <summary>At most <paramref name="count"/> tenant ids after <paramref name="after"/> (empty: from the first), in
    /// ordinal order: one page of ListTenants without shipping the whole set.</summary>
    Task<string[]> ListTenants(string after, int count);

    /// <summary>The catalog without its tenants' ids: how many tenants, and the fleet. What is read often (the cluster
    /// summary that <c>schedctl top</c> polls, the accelerator listing, the fleet gauges): <see cref="Get"/> ships every
    /// tenant id, one copy of the whole set per call.</summary>
    Task<CatalogFleet> GetFleet();
}

[GenerateSerializer, Alias("scheduler.CatalogSnapshot")]
public sealed record CatalogSnapshot(
    [property: Id(0)] string[] Tenants,
    [property: Id(1)] string[] Nodes,
    [property: Id(2)] string[] Accelerators,
    [property: Id(3)] string[] Replicas,
    [property: Id(4)] string[] Models);

/// <summary>The catalog's counts, and its accelerators' ids (<see cref="ICatalogGrain.GetFleet"/>).</summary>
[GenerateSerializer, Alias("scheduler.CatalogFleet")]
public sealed record CatalogFleet(
    [property: Id(0)] int Tenants,
    [property: Id(1)] int Nodes,
    [property: Id(2)] string[] Accelerators,
    [property: Id(3)] int Replicas);
